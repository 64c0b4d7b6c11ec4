"""An offline address index from the SER spaces file: street + number → point (WGS84) and neighbourhood, and a
search that says what it found.

The spaces file names streets as ``AGUAS, CALLE, DE LAS`` (name, type, particle); the index shows them as
``CALLE DE LAS AGUAS``. Only streets with SER (regulated) spaces are in the file, so a street that is not in it
has no regulated parking or is outside the zone: the search says so instead of answering another street.

A query is split into its street type (``calle``, ``avda``, ``plaza``…), the street's own name and a number. The
name is compared with the names of the index by the platform's one matcher and cutoff (:mod:`shipml.core.matching`;
typos forgiven, a part of a longer name is not the name). Every answer says how it matched (:data:`MatchKind`):

- ``exact``: the street and the number are listed;
- ``nearest_number``: the street is listed, the number is not; the nearest listed number on the same side (odd or
  even) is answered, or the other side's when it is much nearer, and the note says which and why;
- ``street``: no number asked: the street's middle (by its listed numbers), its extent and neighbourhoods;
- ``approximate``: the name matched but the street type asked is not the listed one ("plaza mayor" → CALLE MAYOR).

Nothing matching is :class:`NotFound` with suggestions (names containing the words typed, or near spellings).
Everything per street is computed once per index (one index per data version, see ``bundle.reference``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from shipml.apps.parking.geo import utm30n_to_wgs84
from shipml.core import matching
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.matching import normalize

MatchKind = Literal["exact", "nearest_number", "street", "approximate"]
QUERY = re.compile(r"^(?P<street>.*?)(?:[\s,]+(?:N[ºO°]?\.?\s*)?(?P<number>\d{1,5})\s*[A-Z]?)?\s*$", re.I)
OTHER_SIDE_MARGIN = 10  # house numbers: the other side is taken only when it is this much nearer (about 5 houses)

# street types as typed (normalized: lower case, no accents or dots) → the type the spaces file writes
_TYPES = {
    "CALLE": "calle c cl cll", "AVENIDA": "avenida av avda avd ave", "PLAZA": "plaza pl pza plz plza",
    "PASEO": "paseo ps pso po", "TRAVESIA": "travesia trav tr trva", "PASAJE": "pasaje pje psje",
    "GLORIETA": "glorieta gta gl", "CUESTA": "cuesta cta", "COSTANILLA": "costanilla ctlla", "RONDA": "ronda rda",
    "CALLEJON": "callejon cjon", "CAMINO": "camino cmno", "CARRERA": "carrera cra", "AUTOVIA": "autovia",
    "CARRETERA": "carretera ctra", "BULEVAR": "bulevar blvr", "GALERIA": "galeria", "COLONIA": "colonia",
}
STREET_TYPES = {word: canonical for canonical, words in _TYPES.items() for word in words.split()}
_TYPE_WORDS = [word for word in STREET_TYPES if len(word) >= 4]  # spelt out: 'calle', not 'cl'
PARTICLES = frozenset("de del la las los el y".split())


@dataclass(frozen=True)
class Street:
    """One street of the index and what is known of it (rows ``start:stop`` of the index's arrays)."""

    name: str  # as shown: 'CALLE DE LAS AGUAS'
    kind: str | None  # its type as the spaces file writes it: 'CALLE'
    key: str  # its own name, normalized, without leading articles: 'aguas'
    start: int
    stop: int
    numbers: tuple[int, int] | None  # lowest and highest listed number
    bbox: tuple[float, float, float, float]  # west, south, east, north
    neighbourhood_ids: tuple[int, ...]  # the neighbourhoods it crosses, most of its rows first
    middle: int  # row of its middle point: the median listed number, else the point nearest its centre


@dataclass(frozen=True)
class AddressMatch:
    street: str
    number: int | None
    lat: float
    lon: float
    neighbourhood_id: int
    score: float
    match: MatchKind = "exact"
    asked_number: int | None = None
    note: str = ""
    extent: Street | None = None

    @property
    def label(self) -> str:
        return f"{self.street} {self.number}" if self.number is not None else self.street


def display_street(raw: str) -> str:
    """``'AGUAS, CALLE, DE LAS'`` → ``'CALLE DE LAS AGUAS'``; other shapes are kept (spaces tidied)."""
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) >= 2:
        return " ".join(p for p in [*parts[1:], parts[0]] if p)
    return " ".join(raw.split())


def _strip(words: list[str]) -> tuple[str | None, list[str]]:
    """(type, the rest without leading particles) of normalized words: ``calle de las aguas`` → (CALLE, [aguas])."""
    kind = STREET_TYPES.get(words[0]) if len(words) > 1 else None
    rest = words[1:] if kind else list(words)
    while len(rest) > 1 and rest[0] in PARTICLES:
        rest.pop(0)
    return kind, rest


def _split_raw(raw: str) -> tuple[str | None, str]:
    """(type, key) of a spaces-file street name, ``'HABANA, AVENIDA, DE LA'`` → (AVENIDA, 'habana')."""
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) >= 2 and parts[1]:
        words = normalize(parts[0]).split()
        while len(words) > 1 and words[0] in PARTICLES:
            words.pop(0)
        return STREET_TYPES.get(normalize(parts[1]), parts[1].upper()), " ".join(words)
    kind, rest = _strip(normalize(raw).split() or [""])
    return kind, " ".join(rest)


def bare_name(text: str) -> str:
    """The street's own name, without its type and leading particles: ``'Calle de las Aguas'`` → ``'aguas'``."""
    return " ".join(_strip(normalize(text).split() or [""])[1])


def _parity(n: int) -> str:
    return "odd" if n % 2 else "even"


class AddressIndex:
    """Streets and numbered points of a spaces frame (:func:`~shipml.apps.parking.spaces.read_spaces`)."""

    def __init__(self, spaces: pl.DataFrame) -> None:
        rows = spaces.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null() & pl.col("street").is_not_null())
        if rows.is_empty():
            raise NotFound("no street with coordinates in the spaces data")
        rows = rows.with_columns(raw=pl.col("street"), number=pl.col("number").cast(pl.String).str.extract(
            r"^(\d+)", 1).cast(pl.Int64, strict=False)).sort("raw", "number", nulls_last=True)
        lat, lon = utm30n_to_wgs84(rows["x"].to_numpy(), rows["y"].to_numpy())
        self.points = rows.select(
            street=pl.col("raw").map_elements(display_street, return_dtype=pl.String),
            number="number", neighbourhood_id=pl.col("neighbourhood_id"),
        ).with_columns(lat=pl.Series(lat), lon=pl.Series(lon))
        self._lat, self._lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        self._number = rows["number"].fill_null(-1).to_numpy().astype(np.int64)
        self._nid = rows["neighbourhood_id"].to_numpy().astype(np.int64)
        raw = rows["raw"].to_list()
        bounds = [0, *[i for i in range(1, len(raw)) if raw[i] != raw[i - 1]], len(raw)]
        self._streets = [self._street(raw[a], a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
        self.streets: list[str] = [s.name for s in self._streets]
        self._keys = [s.key for s in self._streets]
        by_word: defaultdict[str, set[int]] = defaultdict(set)
        for i, key in enumerate(self._keys):
            for word in key.split():
                if word not in PARTICLES:
                    by_word[word].add(i)
        self._words = list(by_word)
        self._by_word = [by_word[w] for w in self._words]

    def _street(self, raw: str, start: int, stop: int) -> Street:
        kind, key = _split_raw(raw)
        numbers = self._number[start:stop]
        listed = np.flatnonzero(numbers >= 0)
        lat, lon = self._lat[start:stop], self._lon[start:stop]
        if listed.size:
            middle = int(listed[np.argsort(numbers[listed], kind="stable")[listed.size // 2]])
        else:
            middle = int(np.argmin((lat - np.median(lat)) ** 2 + (lon - np.median(lon)) ** 2))
        counts = Counter(self._nid[start:stop].tolist())
        return Street(
            name=display_street(raw), kind=kind, key=key, start=start, stop=stop,
            numbers=(int(numbers[listed].min()), int(numbers[listed].max())) if listed.size else None,
            bbox=(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())),
            neighbourhood_ids=tuple(n for n, _ in counts.most_common()), middle=start + middle)

    def __len__(self) -> int:
        return len(self.streets)

    def all_streets(self) -> list[Street]:
        return self._streets

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(number, lat, lon) of every row, streets in order (a :class:`Street` is rows ``start:stop``); -1: none."""
        return self._number, self._lat, self._lon

    def positions(self, street: Street) -> list[tuple[float, float]]:
        """The street's listed points as (lon, lat), rounded to ~1 m, without repeats."""
        seen = dict.fromkeys(zip(np.round(self._lon[street.start:street.stop], 5).tolist(),
                                 np.round(self._lat[street.start:street.stop], 5).tolist(), strict=True))
        return list(seen)

    def search(self, query: str, limit: int = 5) -> list[AddressMatch]:
        """The streets the query names, best first, each saying how it matched; :class:`NotFound` with
        suggestions (``details["suggestions"]``) when no street name matches at the cutoff."""
        text = " ".join(query.split())
        parsed = QUERY.match(text)
        street_text = (parsed.group("street") if parsed else text).strip(" ,")
        number = int(parsed.group("number")) if parsed and parsed.group("number") else None
        words = normalize(street_text).split() or [""]
        if "," in street_text:  # the spaces file's own shape: 'ALCALA, CALLE, DE'
            kind, key = _split_raw(street_text)
        else:
            kind, rest = _strip(words)
            key = " ".join(rest)
        if all(w in STREET_TYPES or w in PARTICLES for w in words):
            raise InvalidInput(f"{street_text!r} is only a street type: add the street's name, e.g. 'Calle de "
                               f"Fuencarral 98'")
        if len(key.replace(" ", "")) < 3:
            raise InvalidInput("an address needs a street name of at least 3 letters, e.g. 'Calle de Fuencarral 98'")
        hits = []
        typed = matching.best(words[0], _TYPE_WORDS, limit=1, normalized=True) if not kind and len(words) > 1 else []
        if typed:  # a misspelt street type, 'cale de goya': read as one first
            typed_kind, rest = _strip([typed[0].choice, *words[1:]])
            if len("".join(rest)) >= 3:
                hits = matching.best(" ".join(rest), self._keys, limit=40, cutoff=matching.CUTOFF, normalized=True)
                kind, key = (typed_kind, " ".join(rest)) if hits else (kind, key)
        hits = hits or matching.best(key, self._keys, limit=40, cutoff=matching.CUTOFF, normalized=True)
        if not hits:
            shown = text if len(text) <= 60 else text[:57] + "…"
            suggestions = self.suggest(key)
            hint = f"; did you mean {', '.join(suggestions[:3])}?" if suggestions else ""
            raise NotFound(f"no street like {shown!r} in the SER street list: it lists only streets with regulated "
                           f"(SER) spaces, so a street without them (pedestrian, free, or outside the zone) is not in "
                           f"it{hint}", details={"reason": "street_not_listed", "suggestions": suggestions})
        found = []
        for hit in hits:
            street = self._streets[hit.index]
            same_type = kind is None or street.kind is None or kind == street.kind
            score = hit.score if same_type else matching.similarity(
                normalize(f"{kind} {key}"), normalize(f"{street.kind} {street.key}"))
            found.append(self._resolve(street, number, 100 * score, same_type, kind))
        found.sort(key=lambda m: (m.match == "approximate", -round(m.score, 1), m.match != "exact",
                                  -(m.extent.stop - m.extent.start if m.extent else 0)))
        return found[:limit]

    def suggest(self, key: str, limit: int = 5) -> list[str]:
        """Street names like ``key`` for a "did you mean": names holding its words (near spellings count), then
        names near it as a whole (the matcher's looser hint cutoff)."""
        words = [w for w in key.split() if w not in PARTICLES and len(w) >= 3]
        votes: Counter[int] = Counter()
        for word in words:
            streets: set[int] = set()
            for m in matching.best(word, self._words, limit=20, cutoff=matching.CUTOFF, normalized=True):
                streets |= self._by_word[m.index]
            votes.update(streets)
        ranked = {i: (n / max(len(words), 1), matching.similarity(key, self._keys[i])) for i, n in votes.items()}
        for m in matching.best(key, self._keys, limit=limit, cutoff=matching.SUGGEST, normalized=True):
            ranked.setdefault(m.index, (0.5, m.score))
        best = sorted(ranked, key=lambda i: (-ranked[i][0], -ranked[i][1], self.streets[i]))
        return list(dict.fromkeys(self.streets[i] for i in best))[:limit]

    def _resolve(self, street: Street, number: int | None, score: float, same_type: bool,
                 kind: str | None) -> AddressMatch:
        numbers = self._number[street.start:street.stop]
        listed = numbers >= 0
        note, row = "", street.middle
        match: MatchKind = "street"
        if number is not None and listed.any():
            at = np.flatnonzero(numbers == number)
            if at.size:
                row, match, note = street.start + int(at[0]), "exact", f"{street.name} {number} is listed"
            else:
                row, note = self._nearest(street, numbers, number)
                match = "nearest_number"
        else:
            numbered = f"listed numbers {street.numbers[0]}–{street.numbers[1]}" if street.numbers else \
                "no numbers listed"
            if number is not None:
                note = f"{street.name} has no numbers in the list; its middle is shown ({numbered})"
            else:
                mid = int(self._number[street.middle])
                where = f"number {mid}, the middle of its listed numbers" if mid >= 0 else "its middle"
                note = (f"the whole street: {numbered}, in {len(street.neighbourhood_ids)} neighbourhood"
                        f"{'s' if len(street.neighbourhood_ids) != 1 else ''}; the point shown is {where}")
        if not same_type:
            note = (f"no {(kind or '').lower()} of this name is in the SER list; {street.name} is another street with "
                    f"the same name. {note[:1].upper()}{note[1:]}")
        found = int(self._number[row])
        return AddressMatch(street.name, found if found >= 0 and match != "street" else None,
                            float(self._lat[row]), float(self._lon[row]), int(self._nid[row]), score,
                            match if same_type else "approximate", number, note[:1].upper() + note[1:], street)

    def _nearest(self, street: Street, numbers: np.ndarray, number: int) -> tuple[int, str]:
        """Row and words for a number that is not listed: the nearest on its side, unless the other side is much
        nearer (house numbers face each other roughly, 50 is nearer 77 than 236)."""
        listed = numbers >= 0
        same = listed & (numbers % 2 == number % 2)
        other = listed & (numbers % 2 != number % 2)
        gap = np.abs(numbers - number)
        side = _parity(number)
        pick_same = int(np.flatnonzero(same)[np.argmin(gap[same])]) if same.any() else None
        pick_other = int(np.flatnonzero(other)[np.argmin(gap[other])]) if other.any() else None
        if pick_same is not None and (pick_other is None or gap[pick_same] <= gap[pick_other] + OTHER_SIDE_MARGIN):
            found = int(numbers[pick_same])
            low, high = int(numbers[same].min()), int(numbers[same].max())
            where = (f"before the first listed {side} number" if number < low else
                     f"after the last listed {side} number" if number > high else f"between listed {side} numbers")
            note = (f"{street.name} {number} is not listed ({where}; the {side} side runs {low}–{high}): the nearest "
                    f"listed on the same side is {found}")
            return street.start + pick_same, note
        assert pick_other is not None
        found = int(numbers[pick_other])
        near = f"the nearest {side} one is {int(numbers[pick_same])}" if pick_same is not None else \
            f"no {side} number is listed"
        note = (f"{street.name} {number} is not listed and no {side} number near it is ({near}): the nearest listed "
                f"is {found}, on the {_parity(found)} side")
        return street.start + pick_other, note
