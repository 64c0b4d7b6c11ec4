"""Ingest: pings from gateways (JSON batches), OsmAnd/Traccar trackers and OwnTracks, into the raw store.

Every parser returns a raw frame (:data:`.rawlog.RAW_SCHEMA`) with the reception time; :func:`.policy.accept`
applies the race's ingest policy (unknown devices and pings over a device's rate counted, not stored) and stores
the rest durably (impossible pings included: the raw store is the audit trail, and the processor counts them), and
answers with what can be judged at the edge: unknown devices, rate-limited and impossible pings. The rest
(duplicates, out of order, late, teleports, off course) is judged by the processor, in order, and shown in the
live stats.

OsmAnd ``speed`` is not used (units differ between clients); ``timestamp`` may be Unix seconds, milliseconds or
ISO 8601. OwnTracks messages whose ``_type`` is not ``location`` are ignored, not errors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired

import numpy as np
import polars as pl
import pydantic_core
from pydantic import ConfigDict, Field, TypeAdapter, with_config
from starlette.requests import Request
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from shipml.core.errors import InvalidInput

from . import rawlog
from .definition import Race
from .processor import EARLIEST_PING_BEFORE_START_S

MAX_BATCH = 10_000
MAX_DEVICE = 128


@with_config(ConfigDict(extra="ignore", allow_inf_nan=False))
class PingIn(TypedDict):
    """One ping of a batch: ``t`` is Unix seconds or ISO 8601."""

    device: Annotated[str, Field(min_length=1, max_length=MAX_DEVICE)]
    t: float | datetime
    lat: float
    lon: float
    ele: NotRequired[float | None]
    hr: NotRequired[float | None]


@with_config(ConfigDict(extra="forbid"))
class PingBatchIn(TypedDict):
    pings: Annotated[list[PingIn], Field(max_length=MAX_BATCH)]


#: a batch as ``{"pings": [...]}`` or a bare list, validated straight from the bytes: no Python object per ping
#: before the frame (a 10,000-ping body costs about a quarter of what model instances did)
_BATCH = TypeAdapter(PingBatchIn)
_LIST = TypeAdapter(Annotated[list[PingIn], Field(max_length=MAX_BATCH)])


def decode_json(body: bytes | str) -> Any:
    """A JSON body or message, or :class:`InvalidInput` saying why not: malformed, nested deeper than 200, not
    UTF-8 (lone surrogates included), or holding ``NaN``/``Infinity``; no body is ``null``."""
    if not body:
        return None
    try:
        return pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise InvalidInput(f"the body is not valid JSON: {str(exc)[:120]}") from None


def parse_batch(body: bytes | str) -> list[PingIn]:
    """The pings of a JSON batch body; a :class:`pydantic.ValidationError` says what is wrong and where."""
    text = body.lstrip()
    if text[:1] in (b"[", "["):
        return _LIST.validate_json(body)
    return _BATCH.validate_json(body)["pings"]


def batch_items(message: list[Any] | dict[str, Any]) -> list[PingIn]:
    """The pings of an already decoded batch (a list, or ``{"pings": [...]}``), validated as :func:`parse_batch`."""
    return _LIST.validate_python(message) if isinstance(message, list) else _BATCH.validate_python(message)["pings"]


def batch_schema() -> dict[str, Any]:
    """The batch body's JSON schema, for the API docs (one ping's schema inlined: no references)."""
    ping = TypeAdapter(PingIn).json_schema()
    ping.pop("title", None)
    return {"oneOf": [
        {"type": "object", "properties": {"pings": {"type": "array", "maxItems": MAX_BATCH, "items": ping}},
         "required": ["pings"], "additionalProperties": False},
        {"type": "array", "maxItems": MAX_BATCH, "items": ping}]}


def _seconds(value: float | datetime) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def frame_of(rows: Sequence[Mapping[str, Any]], source: str, received: float | None = None) -> pl.DataFrame:
    """Raw rows (device, t in seconds or a datetime, lat, lon, ele?, hr?) to a raw frame received now."""
    received = time.time() if received is None else received
    n = len(rows)
    return pl.DataFrame({
        "device": [str(r["device"]) for r in rows],
        "t": np.fromiter((_seconds(r["t"]) for r in rows), dtype=np.float64, count=n),
        "lat": np.fromiter((r["lat"] for r in rows), dtype=np.float64, count=n),
        "lon": np.fromiter((r["lon"] for r in rows), dtype=np.float64, count=n),
        "ele": pl.Series([r.get("ele") for r in rows], dtype=pl.Float64),
        "hr": pl.Series([r.get("hr") for r in rows], dtype=pl.Float64),
        "received": np.full(n, received),
        "source": [source] * n,
        "kind": np.full(n, rawlog.PING, dtype=np.int8),
    }, schema=rawlog.RAW_SCHEMA)


def judge(race: Race, frame: pl.DataFrame, runner: np.ndarray | None = None) -> dict[str, Any]:
    """What the edge can tell: accepted for processing, or unknown device / impossible (``runner``: the pings'
    runner indices when already looked up)."""
    runner = race.devices.indices(frame["device"]) if runner is None else runner
    lat, lon, t = frame["lat"].to_numpy(), frame["lon"].to_numpy(), frame["t"].to_numpy()
    received = np.asarray(race.race_time(frame["received"].to_numpy()), dtype=np.float64)
    rules = race.definition.rules()
    earliest = float(race.start_t.min()) - EARLIEST_PING_BEFORE_START_S
    unknown = runner < 0
    with np.errstate(invalid="ignore"):
        possible = (np.isfinite(lat) & np.isfinite(lon) & np.isfinite(t) & (np.abs(lat) <= 90)
                    & (np.abs(lon) <= 180) & ((lat != 0) | (lon != 0)) & (t <= received + rules.max_clock_skew_s)
                    & (t >= earliest))
    impossible = ~unknown & ~possible
    rejected = {"unknown_device": int(unknown.sum()), "impossible": int(impossible.sum())}
    return {"stored": frame.height, "accepted": int(frame.height - unknown.sum() - impossible.sum()),
            "rejected": {k: v for k, v in rejected.items() if v}}


def command(race: Race, bib: str, dnf: bool) -> None:
    """An admin's DNF (or reinstatement) goes into the stream, so replays and restarts see it in its place."""
    if bib not in race.bib_index:
        raise InvalidInput(f"no runner with bib {bib!r} in race {race.name}")
    now = time.time()
    rawlog.store(race.name, pl.DataFrame({
        "device": [bib], "t": [now], "lat": [None], "lon": [None], "ele": [None], "hr": [None], "received": [now],
        "source": ["admin"], "kind": [rawlog.DNF_COMMAND if dnf else rawlog.REINSTATE_COMMAND]},
        schema=rawlog.RAW_SCHEMA))


# --- OsmAnd / Traccar Client ---------------------------------------------------------------------------------

def _finite(value: Any, name: str) -> float:
    """A finite float of a JSON number or a text, or :class:`InvalidInput` naming the parameter."""
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else math.nan
    except (ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(f"parameter {name!r} is not a finite number")
    return number


def _osmand_time(value: Any, now: float) -> float:
    if value is None or value == "":
        return now
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                return _seconds(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError as exc:
                raise InvalidInput(f"unreadable timestamp {value[:40]!r}: Unix seconds, milliseconds or "
                                   "ISO 8601") from exc
    seconds = _finite(value, "timestamp")
    return seconds / 1000.0 if seconds > 1e11 else seconds


def _number(params: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = params.get(name)
        if value not in (None, ""):
            return _finite(value, name)
    return None


def _device(value: Any, what: str) -> str:
    """A device name: a non-empty text (or number) of at most 128 characters, encodable (no lone surrogates)."""
    device = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not device or len(device) > MAX_DEVICE:
        raise InvalidInput(what)
    try:
        device.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what}; this one is not valid Unicode text") from None
    return device


async def osmand_params(request: Request) -> dict[str, Any]:
    """An OsmAnd request's parameters, wherever the tracker put them: the query string, and a JSON or form body
    (a body that cannot be read is the caller's mistake)."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "")
        if kind.startswith("application/json"):
            body = decode_json(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise InvalidInput("the body must be a JSON object")
            params.update(body)
        elif kind:
            try:
                params.update(dict(await request.form()))
            except Exception as exc:  # a malformed form or multipart body
                raise InvalidInput("the body is not a readable form (application/x-www-form-urlencoded)") from exc
    return params


def osmand_frame(params: Mapping[str, Any]) -> pl.DataFrame:
    """One OsmAnd position from query or form parameters, or a Traccar Client 9 JSON body."""
    now = time.time()
    if isinstance(params.get("location"), dict):  # Traccar Client JSON
        location = params["location"]
        coords = location.get("coords") or {}
        if not isinstance(coords, dict):
            raise InvalidInput("'location.coords' must be an object with latitude and longitude")
        device = params.get("device_id")
        row = {"device": device, "t": _osmand_time(location.get("timestamp"), now),
               "lat": _number(coords, "latitude"), "lon": _number(coords, "longitude"),
               "ele": _number(coords, "altitude")}
    else:
        device = params.get("id") or params.get("deviceid")
        lat, lon = _number(params, "lat"), _number(params, "lon")
        if (lat is None or lon is None) and params.get("location"):
            parts = str(params["location"]).split(",")
            if len(parts) != 2:
                raise InvalidInput("parameter 'location' must be 'lat,lon'")
            lat, lon = _finite(parts[0], "location"), _finite(parts[1], "location")
        row = {"device": device, "t": _osmand_time(params.get("timestamp"), now), "lat": lat, "lon": lon,
               "ele": _number(params, "altitude"), "hr": _number(params, "hr", "heartrate")}
    row["device"] = _device(device, "an OsmAnd position needs 'id' (or 'deviceid'), at most 128 characters")
    if row["lat"] is None or row["lon"] is None:
        raise InvalidInput("an OsmAnd position needs 'lat' and 'lon' (or 'location=lat,lon')")
    return frame_of([row], "osmand", now)


# --- OwnTracks -----------------------------------------------------------------------------------------------

def owntracks_frame(message: Any, device: str | None) -> pl.DataFrame | None:
    """An OwnTracks location message (None for other message types, which are not positions)."""
    if not isinstance(message, dict):
        raise InvalidInput("an OwnTracks message is a JSON object")
    if message.get("_type") != "location":
        return None
    topic = message.get("topic")
    if device is None and isinstance(topic, str) and topic.count("/") >= 2:
        device = "/".join(topic.split("/")[-2:])
    device = _device(device or message.get("tid"), "an OwnTracks location needs a device: the X-Limit-U/X-Limit-D "
                     "headers, 'topic' or 'tid' (at most 128 characters)")
    lat, lon, tst = _number(message, "lat"), _number(message, "lon"), _number(message, "tst")
    if lat is None or lon is None or tst is None:
        raise InvalidInput("an OwnTracks location needs 'lat', 'lon' and 'tst'")
    return frame_of([{"device": device, "t": tst, "lat": lat, "lon": lon, "ele": _number(message, "alt")}],
                    "owntracks")
