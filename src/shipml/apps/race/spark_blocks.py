"""What the race's Spark job moves around, as raw numpy bytes instead of one Spark row per ping or per runner.

* a **ping block**: the pings (and admin commands) of one raw file that belong to one group of runners, as
  parallel arrays; the stream carries one row per (file, group), so the JVM sorts and shuffles a few rows per file
  however many pings it holds, and the group's kernel reads them with ``np.frombuffer``;
* a **group's state**: the per-runner arrays of the group's :class:`~.processor.RaceProcessor` with its counts,
  laid end to end (no archive, no checksum: the state store keeps its own files);
* a **change block**: the runners whose state a micro-batch changed, with their arrays: all the driver receives.

A blob is a 4-byte header length, a JSON header (``[[name, dtype, shape], …]`` and a ``meta`` object), then the
arrays' bytes in that order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .processor import STATE_ARRAYS, RaceProcessor
from .trail import TRAIL_ARRAYS

#: what a group's kernel keeps and the driver mirrors for each runner: the state arrays, splits and the trails
RUNNER_ARRAYS = (*STATE_ARRAYS, "splits_s", *TRAIL_ARRAYS)
#: the driver's copy takes these (start time and category are the race's, never changed by pings)
CHANGING = tuple(name for name in RUNNER_ARRAYS if name not in ("start_t", "category"))
PING_FIELDS = ("runner", "t", "lat", "lon", "hr", "received", "kind")


def pack(arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any] | None = None) -> bytes:
    """Arrays (and a small JSON-able ``meta``) as one blob."""
    contiguous = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header = json.dumps({"arrays": [[name, a.dtype.str, list(a.shape)] for name, a in contiguous.items()],
                         "meta": dict(meta or {})}).encode()
    return b"".join([len(header).to_bytes(4, "little"), header, *(a.tobytes() for a in contiguous.values())])


def unpack(blob: bytes | bytearray | memoryview) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """The arrays (read-only views on ``blob``) and the meta of a blob from :func:`pack`."""
    size = int.from_bytes(blob[:4], "little")
    header = json.loads(bytes(blob[4:4 + size]))
    offset, arrays = 4 + size, {}
    for name, dtype, shape in header["arrays"]:
        kind = np.dtype(dtype)
        count = math.prod(shape)  # (np.prod: 5 µs a call, a tenth of a ping block's unpacking)
        arrays[name] = np.frombuffer(blob, dtype=kind, count=count, offset=offset).reshape(shape)
        offset += count * kind.itemsize
    return arrays, header["meta"]


def pack_state(p: RaceProcessor) -> bytes:
    """A group's processor: every runner array and the counts (what :func:`unpack_state` puts back)."""
    counts = {"accepted": p.accepted, "rejected": p.rejected, "ignored": p.ignored, "clock": p.clock}
    return pack({name: getattr(p, name) for name in RUNNER_ARRAYS}, counts)


def unpack_state(p: RaceProcessor, blob: bytes | bytearray) -> None:
    """Put back a group's state into a processor of the same runners and course."""
    arrays, counts = unpack(blob)
    for name in RUNNER_ARRAYS:
        getattr(p, name)[:] = arrays[name]
    p.accepted, p.clock = int(counts["accepted"]), float(counts["clock"])
    p.rejected, p.ignored = dict(counts["rejected"]), dict(counts["ignored"])


def runner_bytes(p: RaceProcessor, runners: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Every changing array of these runners as one row of bytes each (to compare before and after, NaN-safe)."""
    parts = [np.ascontiguousarray(getattr(p, name)[runners]).view(np.uint8).reshape(runners.size, -1)
             for name in CHANGING]
    return np.concatenate(parts, axis=1) if parts else np.zeros((runners.size, 0), dtype=np.uint8)


def pack_changes(p: RaceProcessor, local: npt.NDArray[np.int64], ids: npt.NDArray[np.int64],
                 counts: Mapping[str, Any]) -> bytes:
    """The runners at ``local`` (the group's slots; ``ids``: their numbers in the race) with their arrays."""
    return pack({"runner": ids[local], **{name: getattr(p, name)[local] for name in CHANGING}}, counts)


def apply_changes(p: RaceProcessor, blob: bytes | bytearray) -> dict[str, Any]:
    """Write a change block into the driver's processor (every runner of the race); returns its counts."""
    arrays, counts = unpack(blob)
    runners = arrays["runner"]
    if runners.size:
        for name in CHANGING:
            getattr(p, name)[runners] = arrays[name]
    return counts
