"""What the registry stores for the shows app: a fitted recommender with its show-id ↔ column maps, so a
prediction goes from liked show ids to recommended show ids (fold-in: no retraining for a new user)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipml.apps.shows.evaluation_data import LikesMatrix
from shipml.apps.shows.recommenders_base import Recommender


@dataclass
class ShowsModel:
    recommender: Recommender
    show_ids: tuple[int, ...]  # column j of the recommender is show_ids[j]

    @classmethod
    def fit(cls, recommender: Recommender, likes: LikesMatrix) -> ShowsModel:
        return cls(recommender.fit(likes.matrix), tuple(int(i) for i in likes.items))

    @property
    def params(self) -> dict[str, Any]:
        """The recommender's params (a registry Model: ``make(params)`` remakes the configuration)."""
        return self.recommender.params

    @property
    def _column(self) -> dict[int, int]:
        if not hasattr(self, "_columns"):
            self._columns = {show: j for j, show in enumerate(self.show_ids)}
        return self._columns

    def known(self, show_ids: Sequence[int]) -> list[int]:
        """The given shows the model knows (a new or unverified show has no column yet)."""
        return [s for s in show_ids if s in self._column]

    def recommend(self, liked_show_ids: Sequence[int], n: int = 20) -> list[dict[str, Any]]:
        """Top ``n`` shows for someone who likes ``liked_show_ids``, each with the liked shows behind it."""
        return self.recommend_many([liked_show_ids], n)[0]

    def recommend_many(self, likes: Sequence[Sequence[int]], n: int = 20) -> list[list[dict[str, Any]]]:
        """:meth:`recommend` for each list of liked shows (a batch of requests, scored together)."""
        liked = [[self._column[s] for s in self.known(show_ids)] for show_ids in likes]
        return [self._described(mine, ranked)
                for mine, ranked in zip(liked, self.recommender.recommend_many(liked, n), strict=True)]

    def _described(self, liked: list[int], ranked: list[tuple[int, float]]) -> list[dict[str, Any]]:
        reasons = self.recommender.because_each(liked, [j for j, _ in ranked], k=2) if liked else [[]] * len(ranked)
        return [{"show_id": self.show_ids[j], "score": round(float(score), 6),
                 "because": [self.show_ids[b] for b in why]} for (j, score), why in zip(ranked, reasons, strict=True)]

    def similar(self, show_id: int, n: int = 10) -> list[dict[str, Any]]:
        if show_id not in self._column:
            return []
        return [{"show_id": self.show_ids[j], "score": round(float(score), 6)}
                for j, score in self.recommender.similar_items(self._column[show_id], n)]

    def predict(self, model_input: Any) -> list[dict[str, Any]]:
        """MLflow's entry point: ``model_input`` is a list of liked show ids."""
        return self.recommend(list(model_input))
