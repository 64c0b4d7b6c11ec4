"""A worker plug-in for tests that switch the shows app to its real data (``shipml worker --import
shows_quick_training``): the lifecycle compares one quick configuration instead of every candidate (the re-ranker's
fit alone takes about a minute on the real likes; its acceptance is tested on its own in ``test_rerank.py``)."""

from shipml.apps.shows import tasks
from shipml.apps.shows.recommenders import ByProfileLength

QUICK = {"by_profile_length": ByProfileLength().params}

tasks.candidates = lambda: dict(QUICK)
