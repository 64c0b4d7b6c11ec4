"""Files written atomically: a reader sees the old content or the new one, never half of one, and two writers of
the same file never share a temporary name (each writes its own, beside the target, then renames it into place)."""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_beside(path: Path) -> Path:
    """A temporary name of this writer's own, in the target's folder (a rename within a folder is atomic)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


@contextmanager
def atomic_path(path: Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without an error it replaces ``path`` (after an fsync
    when ``durable``), otherwise it is removed and ``path`` is left as it was."""
    temporary = temporary_beside(path)
    try:
        yield temporary
        if durable:
            with temporary.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace ``path``'s content with ``data`` atomically."""
    with atomic_path(path, durable=durable) as temporary:
        temporary.write_bytes(data)


def write_text(path: Path, text: str, *, durable: bool = False) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"), durable=durable)


@contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory lock on ``path`` (created if missing) across processes: exclusive, or ``shared`` with other
    readers; released when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
