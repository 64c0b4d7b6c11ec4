"""The ratings store: request likes, feedback, imports, and the export training reads."""

from __future__ import annotations

import threading
import time

import polars as pl
import pytest
from sqlalchemy import select

from shipml.apps.shows import catalog, ratings
from shipml.apps.shows.tables import ShowRating
from shipml.core import datasets, db
from shipml.core.errors import InvalidInput, NotFound, RejectedData


@pytest.fixture
def show_ids(platform) -> list[int]:  # type: ignore[no-untyped-def]
    """A catalog of 60 shows; their ids."""
    ids = range(60)
    frame = pl.DataFrame({"external_id": [f"s{i}" for i in ids], "title": [f"Show Number {i}" for i in ids]})
    catalog.import_shows(frame, "synthetic")
    return sorted(catalog.get_shows(range(1, 1000)))


def pairs(frame: pl.DataFrame) -> set[tuple[str, int]]:
    return set(frame.select("user", "item").iter_rows())


def test_each_request_gets_a_new_anonymous_user(show_ids):
    first = ratings.record_request_likes(show_ids[:3])
    second = ratings.record_request_likes([show_ids[0], show_ids[0], show_ids[4]])  # a repeat counts once
    assert first != second
    frame = ratings.export().read()
    assert pairs(frame) == {(first, i) for i in show_ids[:3]} | {(second, show_ids[0]), (second, show_ids[4])}
    assert frame["liked"].all() and frame["rating"].is_null().all()
    with db.session() as s:
        assert set(s.scalars(select(ShowRating.source))) == {"request"}


def test_a_request_needs_one_to_five_known_shows(show_ids):
    with pytest.raises(InvalidInput):
        ratings.record_request_likes(show_ids[:6])
    with pytest.raises(InvalidInput):
        ratings.record_request_likes([])
    with pytest.raises(NotFound):
        ratings.record_request_likes([show_ids[0], 999_999])
    with db.session() as s:
        assert s.scalars(select(ShowRating)).first() is None  # nothing half-stored


def test_feedback_is_stored_and_the_latest_answer_wins(show_ids):
    user = ratings.record_request_likes(show_ids[:2])
    ratings.record_feedback(user, show_ids[10], liked=True)
    ratings.record_feedback(user, show_ids[11], liked=False)
    ratings.record_feedback(user, show_ids[10], liked=False)  # changed their mind
    frame = ratings.export().read().filter(pl.col("user") == user)
    assert dict(frame.select("item", "liked").iter_rows()) == {
        show_ids[0]: True, show_ids[1]: True, show_ids[10]: False, show_ids[11]: False
    }
    with db.session() as s:
        assert len(s.scalars(select(ShowRating).where(ShowRating.source == "feedback")).all()) == 3
    with pytest.raises(NotFound):
        ratings.record_feedback(user, 999_999, liked=True)


def test_imports_are_bulk_idempotent_and_mark_likes_from_eight(show_ids):
    frame = pl.DataFrame({"user": ["u1", "u1", "u2"], "item": show_ids[:2] + show_ids[:1], "rating": [8.0, 7.0, 10.0]})
    assert ratings.import_ratings(frame) == 3
    assert ratings.import_ratings(frame) == 0  # importing again adds nothing
    exported = ratings.export().read().sort("user", "item")
    assert exported.columns == ["user", "item", "rating", "liked"]
    assert exported.schema == ratings.EXPORT_SCHEMA
    assert exported["liked"].to_list() == [True, False, True]
    with pytest.raises(NotFound):
        ratings.import_ratings(pl.DataFrame({"user": ["u3"], "item": [999_999], "rating": [5.0]}))


def test_an_export_without_changes_keeps_its_version_and_an_empty_store_is_rejected(show_ids):
    with pytest.raises(RejectedData):
        ratings.export()
    assert datasets.latest(ratings.DATASET) is None
    assert datasets.refreshes(ratings.DATASET)[0]["status"] == "rejected"
    ratings.record_request_likes(show_ids[:2])
    first = ratings.export()
    assert ratings.export().version == first.version == 1
    assert [r["status"] for r in datasets.refreshes(ratings.DATASET)] == ["unchanged", "stored", "rejected"]
    assert first.synthetic is True  # the catalog is synthetic


def test_a_ratings_export_running_while_ratings_are_posted_loses_none(show_ids):
    """Threads post likes and feedback while an export runs: every rating posted before the export
    started is in it, and every rating posted at all is in the next export."""
    history = pl.DataFrame({
        "user": [f"old{u}" for u in range(2000) for _ in range(30)],
        "item": [show_ids[(u * 7 + k) % len(show_ids)] for u in range(2000) for k in range(30)],
        "rating": [float(1 + (u + k) % 10) for u in range(2000) for k in range(30)],
    })
    ratings.import_ratings(history)  # 60,000 ratings, so the export takes a while
    posted: list[tuple[str, int]] = []
    lock, stop = threading.Lock(), threading.Event()
    errors: list[BaseException] = []

    def post(worker: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                likes = [show_ids[(worker * 13 + n + k) % len(show_ids)] for k in range(3)]
                user = ratings.record_request_likes(likes)
                ratings.record_feedback(user, show_ids[(worker + n) % len(show_ids)], liked=n % 2 == 0)
                with lock:
                    posted.extend((user, i) for i in likes)
                    posted.append((user, show_ids[(worker + n) % len(show_ids)]))
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while len(posted) < 40:
        time.sleep(0.01)
    with lock:
        before = set(posted)
    snapshot = ratings.export()
    with lock:
        during = set(posted) - before
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert during, "no rating was posted while the export ran: the test proved nothing"
    exported = pairs(snapshot.read())
    assert before <= exported
    assert len(exported) == snapshot.rows
    final = pairs(ratings.export().read())
    assert set(posted) <= final
    assert len(final) == 60_000 + len(set(posted))
