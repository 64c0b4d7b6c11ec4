"""Ratings files → likes → a users × items matrix (re-exported by :mod:`.evaluation`).

``read_ratings`` reads any ratings file with a header row, whatever its separator (comma, tab, semicolon, pipe
or MovieLens's ``::``), and gives one frame ``(user, item, rating)``; ``likes`` keeps the ratings that mean
"liked it"; :class:`LikesMatrix` numbers users and items and holds the binary CSR matrix the models fit on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from shipml.core.errors import InvalidInput

SEPARATORS = ("\t", ",", ";", "|")
_SUBSTITUTE = "\x1f"  # stands in for "::", which polars cannot split on


def sniff_separator(lines: Sequence[str]) -> str:
    """The field separator of a delimited text whose first line is a header.

    ``::`` wins when the header contains it; otherwise the candidate (tab, comma, semicolon, pipe) that splits
    every sampled line into the same number of fields, most fields first. Raises InvalidInput when none fits.
    """
    lines = [line.rstrip("\r\n") for line in lines if line.strip()]
    if not lines:
        raise InvalidInput("the file is empty: a header row is required")
    if "::" in lines[0]:
        return "::"
    found = []
    for separator in SEPARATORS:
        count = lines[0].count(separator)
        if count:
            consistent = all(line.count(separator) == count for line in lines[1:])
            found.append((consistent, count, separator))
    if not found:
        raise InvalidInput(f"cannot tell the separator from the header {lines[0][:80]!r}: expected at least two "
                           "columns separated by a tab, comma, semicolon, pipe or '::'")
    return max(found, key=lambda f: (f[0], f[1]))[2]


def _header(line: str, separator: str) -> list[str]:
    return [name.strip().strip('"').strip() for name in line.rstrip("\r\n").split(separator)]


def read_ratings(path: str | Path, user_col: str, item_col: str, rating_col: str | None = None,
                 min_rating: float | None = None) -> pl.DataFrame:
    """Read a ratings file into ``(user, item, rating)``.

    The separator is sniffed from the first lines (:func:`sniff_separator`); a header row is required. Rows with
    no user, item or (when ``rating_col`` is given) rating are dropped; a (user, item) pair given twice keeps its
    last rating. Without ``rating_col`` the data is implicit: ``rating`` is null, and every row is a like.

    Args:
        path: a CSV, TSV or ``::``-separated file.
        user_col, item_col, rating_col: names of the columns in the header.
        min_rating: when given, rows rated below it are dropped (needs ``rating_col``).

    Raises:
        InvalidInput: the file cannot be read, a column is missing, or a rating is not a number.
    """
    path = Path(path)
    if min_rating is not None and rating_col is None:
        raise InvalidInput("min_rating needs a rating column")
    try:
        raw = path.read_bytes()
        text_head = raw[:65536].decode("utf-8-sig", errors="replace").splitlines()[:20]
    except OSError as exc:
        raise InvalidInput(f"cannot read ratings file {path}: {exc.strerror or exc}") from exc
    separator = sniff_separator(text_head)
    header = _header(text_head[0], separator)
    wanted = [c for c in (user_col, item_col, rating_col) if c is not None]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InvalidInput(f"{path.name}: no column {', '.join(map(repr, missing))}; the header has {header}")
    if separator == "::":
        raw = raw.replace(b"::", _SUBSTITUTE.encode())
    try:
        frame = pl.read_csv(io.BytesIO(raw), separator=_SUBSTITUTE if separator == "::" else separator,
                            quote_char='"' if separator in {",", ";"} else None, infer_schema_length=0,
                            encoding="utf8-lossy", truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise InvalidInput(f"cannot parse ratings file {path.name}: {exc}") from exc
    frame = frame.rename({c: c.strip().strip('"').strip() for c in frame.columns}).select(wanted)
    frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in wanted)
    frame = frame.with_columns(_as_integers(frame[c]) for c in (user_col, item_col))
    if rating_col is None:
        rating = pl.lit(None, dtype=pl.Float64)
    else:
        bad = frame.filter(pl.col(rating_col).is_not_null() & pl.col(rating_col).cast(pl.Float64, strict=False)
                           .is_null())
        if bad.height:
            raise InvalidInput(f"{path.name}: column {rating_col!r} must hold numbers; found "
                               f"{bad[rating_col].head(3).to_list()}")
        rating = pl.col(rating_col).cast(pl.Float64)
    out = (frame.select(pl.col(user_col).alias("user"), pl.col(item_col).alias("item"), rating.alias("rating"))
           .drop_nulls(["user", "item"] + (["rating"] if rating_col else []))
           .unique(["user", "item"], keep="last", maintain_order=True))
    return out if min_rating is None else out.filter(pl.col("rating") >= min_rating)


def _as_integers(column: pl.Series) -> pl.Series:
    """Integer ids when every value is an integer, else the strings unchanged."""
    numbers = column.cast(pl.Int64, strict=False)
    return numbers if numbers.null_count() == column.null_count() else column


def likes(frame: pl.DataFrame, min_rating: float | None = None) -> pl.DataFrame:
    """The rows of ``(user, item, rating)`` that are likes, as ``(user, item)``.

    A like is a rating ≥ ``min_rating`` when given (e.g. 7 of 10), else a rating ≥ the user's own mean rating;
    a null rating (implicit data) is always a like.
    """
    for column in ("user", "item"):
        if column not in frame.columns:
            raise InvalidInput(f"likes needs a {column!r} column; got {frame.columns}")
    if "rating" not in frame.columns:
        return frame.select("user", "item").unique(maintain_order=True)
    threshold = pl.lit(min_rating) if min_rating is not None else pl.col("rating").mean().over("user")
    liked = pl.col("rating").is_null() | (pl.col("rating") >= threshold)
    return frame.filter(liked).select("user", "item").unique(maintain_order=True)


@dataclass(frozen=True)
class LikesMatrix:
    """A binary users × items CSR matrix of likes with its id maps (row ``i`` is ``users[i]``, column ``j`` is
    ``items[j]``)."""

    matrix: sparse.csr_matrix
    users: tuple[Any, ...]
    items: tuple[Any, ...]
    user_index: dict[Any, int]
    item_index: dict[Any, int]

    @classmethod
    def from_likes(cls, frame: pl.DataFrame, items: Sequence[Any] | None = None) -> LikesMatrix:
        """Build from ``(user, item)`` likes. Users and items are sorted by id; with ``items`` the catalog is
        exactly those items, in that order, and likes of other items are dropped."""
        pairs = frame.select("user", "item").unique()
        users = tuple(sorted(pairs["user"].unique().to_list()))
        catalog = tuple(items) if items is not None else tuple(sorted(pairs["item"].unique().to_list()))
        user_index = {u: i for i, u in enumerate(users)}
        item_index = {t: j for j, t in enumerate(catalog)}
        rows = np.fromiter((user_index[u] for u in pairs["user"]), dtype=np.int64, count=pairs.height)
        cols = np.fromiter((item_index.get(t, -1) for t in pairs["item"]), dtype=np.int64, count=pairs.height)
        keep = cols >= 0
        matrix = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
                                   shape=(len(users), len(catalog)))
        return cls(matrix, users, catalog, user_index, item_index)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.users), len(self.items))

    def item_indices(self, ids: Iterable[Any]) -> np.ndarray:
        """Column indices of item ids; ids not in the catalog are left out."""
        found = [self.item_index[t] for t in ids if t in self.item_index]
        return np.asarray(found, dtype=np.int64)
