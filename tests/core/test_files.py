"""Atomic file writes: a failed write leaves the old content and no temporary file; concurrent writers of one file
never trip over each other's temporary files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shipml.core import files


def test_a_write_replaces_the_content_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old")
    files.write_text(target, "new", durable=True)
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "race.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.atomic_path(target) as temporary:
        temporary.write_text("half of the n")
        raise RuntimeError("the writer died")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["race.json"]


def test_concurrent_writers_of_one_file_each_land_whole(tmp_path: Path) -> None:
    target = tmp_path / "shared.bin"
    contents = [bytes([i]) * 100_000 for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda data: files.write_bytes(target, data), contents))
    assert target.read_bytes() in contents and [p.name for p in tmp_path.iterdir()] == ["shared.bin"]
