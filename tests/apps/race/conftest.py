"""Fixtures of the race tests: the hand-made course (see handmade.py)."""

from __future__ import annotations

import pytest

from apps.race.handmade import make_course
from shipml.apps.race.course import Course


@pytest.fixture(scope="session")
def course() -> Course:
    return make_course()
