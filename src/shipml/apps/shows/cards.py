"""The shows page's rendering helpers: API answers → labels, a typed title's likely match, the HTML of a
show's poster (or a placeholder with its initials) and card; and, last, the grid of recommended shows with
their rating buttons (the only part that talks to Streamlit and the API).

A typed title is judged with the catalog's own rule (:func:`titles.normalize`,
:data:`titles.RESOLVE_THRESHOLD`, a real title before an unverified one, "Title (2006)" as that title of that
year), so what the picker promises is what the API will do.

Answers come parsed into the models of :mod:`shipml.apps.shows.schemas`. The helpers that judge and label a show
(:func:`match`, :func:`show_label`, :func:`meta_line`, …) also take the catalog's own dict of a show
(:data:`ShowLike`), as the matching policy's tests give them.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import streamlit as st

from shipml.apps.shows.schemas import (
    Rating,
    RatingSaved,
    RecommendationAccepted,
    RecommendationDone,
    RecommendedShow,
    Show,
    ShowHit,
)
from shipml.apps.shows.titles import RESOLVE_THRESHOLD, normalize, similarity, split_label
from shipml.core.schemas import DatasetFreshness
from shipml.ui import client

# Poster placeholders: a gradient per title (stable across runs), picked from these pairs.
GRADIENTS = (
    ("#4f46e5", "#7c3aed"), ("#0f766e", "#14b8a6"), ("#b45309", "#f59e0b"), ("#be123c", "#f43f5e"),
    ("#1d4ed8", "#38bdf8"), ("#4d7c0f", "#84cc16"), ("#7e22ce", "#ec4899"), ("#334155", "#64748b"),
    ("#9a3412", "#fb923c"), ("#155e75", "#22d3ee"),
)
_MARKDOWN = str.maketrans({"$": "&#36;", "*": "&#42;", "_": "&#95;", "~": "&#126;", "`": "&#96;",
                           "[": "&#91;", "]": "&#93;", "\n": " "})
RATED = "shows_rated"  # session state: show id → liked, for the current answer's user
SYNTHETIC_BANNER = (
    "**SYNTHETIC catalog (offline demo)**: these shows and the people who rated them are generated; titles and "
    "tastes are not real, so real titles such as *Death Note* are not found. **To use real data**, point the app "
    "at a folder laid out like `shared/data/shows` (`anime_caserec/`: the Kaggle *Anime Recommendations Database*, "
    "MyAnimeList ratings, as subsampled by CaseRecommender; optionally `netflix_titles/` for years and "
    "descriptions): run `shipml ingest shows --source <folder>`, or set `SHIPML_SHOWS_SOURCE=<folder>` and "
    "restart `shipml up`. The real catalog replaces this demo, and the recommender is retrained and served on it "
    "by itself (within a minute or two)."
)
_WORD = re.compile(r"[^\W_]+")
ShowLike = Show | ShowHit | Mapping[str, Any]
"""A show: an API answer's model, or the catalog's own dict of it."""
H = TypeVar("H", bound=ShowLike)


def field(show: ShowLike, name: str, default: Any = None) -> Any:
    """One field of a show, model or dict (``default`` when it has none)."""
    if isinstance(show, Mapping):
        return show.get(name, default)
    return getattr(show, name, default)


def text(value: object) -> str:
    """Text safe inside the page's HTML (escaped, and no Markdown or LaTeX left to interpret)."""
    return html.escape(str(value)).translate(_MARKDOWN)


def initials(title: str) -> str:
    """``"Fullmetal Alchemist: Brotherhood"`` → ``"FA"``; ``"X"`` → ``"X"``; no letters → ``"?"``."""
    words = _WORD.findall(title)
    return "".join(w[0] for w in words[:2]).upper() or "?"


def gradient(title: str) -> tuple[str, str]:
    return GRADIENTS[zlib.crc32(title.encode()) % len(GRADIENTS)]


def poster_url(show: ShowLike) -> str:
    """The show's poster URL when it is a web address, else ``""``."""
    url = str(field(show, "poster_url") or "")
    return url if url.startswith(("http://", "https://")) else ""


def background(title: str, url: str) -> str:
    """CSS background of a poster: the image, or the title's gradient when there is none."""
    if url:
        return f"#e2e8f0 url('{html.escape(url)}') center/cover no-repeat"
    start, end = gradient(title)
    return f"linear-gradient(135deg,{start},{end})"


def genres(value: str | None, limit: int = 3) -> list[str]:
    """``"Action,Adventure,Drama,Fantasy"`` → ``["Action", "Adventure", "Drama"]``."""
    return [g.strip() for g in (value or "").split(",") if g.strip()][:limit]


def meta_line(show: ShowLike, limit: int = 3) -> str:
    """``"2006 · Mystery · Police · Psychological"`` (year first when known)."""
    year = field(show, "year")
    parts = ([str(year)] if year else []) + genres(field(show, "genres"), limit)
    return " · ".join(parts)


def show_label(show: ShowLike) -> str:
    """``"Death Note (2006)"``, or the title alone when the year is unknown."""
    title, year = field(show, "title"), field(show, "year")
    return f"{title} ({year})" if year else str(title)


def verified(show: ShowLike) -> bool:
    """Whether a source knows the show (a dict without the field counts as known)."""
    return bool(field(show, "verified", True))


def suggestion_label(show: ShowLike) -> str:
    """A live suggestion's button: the label, marked when no source knows the title."""
    return show_label(show) + ("" if verified(show) else " · unverified")


def suggestion_help(show: ShowHit) -> str | None:
    if not show.verified:
        return "A title a user added that no source knows: the recommender may know nothing about it."
    return " · ".join(genres(show.genres, 6)) or None


def shorten(value: str | None, limit: int = 150) -> str:
    """Cut a description at a word boundary before ``limit`` characters, with an ellipsis."""
    value = " ".join((value or "").split())
    if len(value) <= limit:
        return value
    return value[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@dataclass(frozen=True)
class Match(Generic[H]):
    """What a typed title will become when submitted: ``exact`` (a catalog title), ``close`` (a typo the
    API forgives: ``show`` is the one it will pick), ``unverified`` (a title a user added that no source knows)
    or ``new`` (no show is close enough: the API will leave it out); ``others`` are the remaining search hits,
    for "did you mean"."""

    kind: Literal["exact", "close", "unverified", "new"]
    show: H | None
    others: list[H]


def match(query: str, hits: Sequence[H]) -> Match[H]:
    """Judge ``query`` against its ``/search`` hits (ask for 5, as the API's resolver does)."""
    title, year = split_label(query)
    norm = normalize(title)
    close = [(ratio, i, h) for i, h in enumerate(hits)
             if (ratio := similarity(norm, normalize(field(h, "title")))) >= RESOLVE_THRESHOLD]
    if not norm or not close:
        return Match("new", None, list(hits))
    _, _, best = max(close, key=lambda s: (verified(s[2]), year is not None and field(s[2], "year") == year,
                                           s[0], -s[1]))
    others = [h for h in hits if h is not best]
    if not verified(best):
        return Match("unverified", best, others)
    return Match("exact" if normalize(field(best, "title")) == norm else "close", best, others)


def match_html(found: Match[Any]) -> str:
    """One line under a picked title: ✓ its year and genres, → the show it will be read as, or "new"."""
    if found.kind == "exact" and found.show is not None:
        colour, line, hint = "#15803d", "✓ " + (meta_line(found.show, 2) or "in the catalog"), "in the catalog"
    elif found.kind == "unverified" and found.show is not None:
        colour, line = "#b45309", "? unverified title"
        hint = (f"{show_label(found.show)} was added by a user and no source knows it: the recommender may know "
                "nothing about it")
    elif found.kind == "close" and found.show is not None:
        colour, line = "#1d4ed8", "→ " + show_label(found.show)
        hint = f"will be read as {show_label(found.show)}"
    else:
        colour, line = "#b45309", "not in the catalog"
        hint = "no show is close enough: it will be left out of the recommendation"
    return (f'<div title="{text(hint)}" style="color:{colour};font-size:.8rem;margin-top:4px;white-space:nowrap;'
            f'overflow:hidden;text-overflow:ellipsis">{text(line)}</div>')


def recognised_lines(answer: RecommendationAccepted) -> list[str]:
    """The submit answer's mapping in Markdown: ``"Deth Note → **Death Note**"``; a title typed exactly
    stays as it is."""
    lines = []
    for r in answer.recognised:
        query, title = r.query or r.title, r.title
        same = query.strip().casefold() == title.casefold()
        lines.append(f"**{text(title)}**" if same else f"{text(query)} → **{text(title)}**")
    return lines


def done_label(done: RecommendationDone, took: float) -> str:
    """``"Ready in 1.2 s: 20 shows from model v3"``."""
    return f"Ready in {took:.1f} s: {len(done.shows)} shows from model v{done.model_version}"


def recognised_view(answer: RecommendationAccepted) -> None:
    """Which typed titles were recognised as which show, and which were not recognised (and so left out)."""
    lines = recognised_lines(answer)
    with st.container(key="shows_recognised"):
        if lines:
            st.markdown(":material/check_circle: Recognised: " + " · ".join(lines))
        unknown = answer.not_recognised
        if unknown:
            st.markdown(":material/help: Not recognised, so left out: "
                        + ", ".join(f"**{text(t)}**" for t in unknown)
                        + " (no show in the catalog is close enough)")


def source_text(data: DatasetFreshness) -> str:
    """A dataset's source for the data line: a folder as code, a URL as a link, synthetic said so."""
    if data.synthetic:
        return "generated offline (synthetic)"
    raw = data.source or "unknown"
    if raw.startswith(("http://", "https://")):
        return f"[{raw}]({raw})"
    return f"`{raw.partition(' (')[0]}`"  # a folder; what follows it in brackets is bookkeeping


def poster_html(show: Show, height: int = 170, rank: int | None = None) -> str:
    """The show's poster as a cover image, or a gradient placeholder with its initials."""
    badge = (f'<span style="position:absolute;top:8px;left:8px;background:rgba(15,23,42,.72);color:#fff;'
             f'font-size:.75rem;font-weight:600;padding:1px 8px;border-radius:999px">#{rank}</span>'
             if rank is not None else "")
    title, url = show.title, poster_url(show)
    label = f"poster of {text(title)}" if url else f"no poster for {text(title)}"
    return (f'<div role="img" aria-label="{label}" class="shows-poster" style="position:relative;'
            f'height:{height}px;border-radius:10px;display:flex;align-items:center;justify-content:center;'
            f'background:{background(title, url)};color:rgba(255,255,255,.92);font-size:{max(height // 3, 18)}px;'
            f'font-weight:700;letter-spacing:.04em;text-shadow:0 2px 8px rgba(0,0,0,.25)">'
            f'{"" if url else text(initials(title))}{badge}</div>')


def empty_slot_html(height: int, first: bool) -> str:
    """A free place among the picked shows: a dashed box ("+ add a show" on the first free one)."""
    return (f'<div style="height:{height}px;border:1.5px dashed #cbd5e1;border-radius:.5rem;display:flex;'
            'align-items:center;justify-content:center;color:#94a3b8;font-size:.9rem">'
            f'{"+ add a show" if first else "empty"}</div>')


def tile_html(title: str, show: ShowLike | None, size: int = 40) -> str:
    """A picked title's small tile: its match's poster, or the initials on the match's gradient."""
    name = str(field(show, "title") or title) if show is not None else title
    url = poster_url(show) if show is not None else ""
    return (f'<div aria-hidden="true" style="width:{size}px;height:{size}px;border-radius:8px;'
            f'background:{background(name, url)};color:#fff;display:flex;align-items:center;'
            f'justify-content:center;font-weight:700;font-size:{size * 0.38:.0f}px">'
            f'{"" if url else text(initials(name))}</div>')


def title_html(title: str, lines: int = 2) -> str:
    """A title in bold, cut after ``lines`` lines (the full title on hover)."""
    return (f'<div title="{text(title)}" style="display:-webkit-box;-webkit-box-orient:vertical;'
            f'-webkit-line-clamp:{lines};overflow:hidden;font-weight:600;line-height:1.3">{text(title)}</div>')


def card_html(show: RecommendedShow, rank: int) -> str:
    """A recommended show: poster, title, year and genres, a short description and why it is here.
    Fixed heights keep a row of cards aligned whatever the texts' lengths."""
    clamp = "display:-webkit-box;-webkit-box-orient:vertical;overflow:hidden;"
    description = shorten(show.description, 180)
    unverified = ("" if show.verified else
                  ' <span style="color:#b45309;font-size:.75rem">(unverified)</span>')
    return (
        f'<div class="shows-card">{poster_html(show, rank=rank)}'
        f'<div class="shows-title" title="{text(show.title)}" style="{clamp}-webkit-line-clamp:2;font-weight:700;'
        f'font-size:1.05rem;line-height:1.3;margin-top:10px;height:2.6em">{text(show.title)}{unverified}</div>'
        f'<div style="color:#64748b;font-size:.82rem;margin-top:2px;height:1.3em;overflow:hidden;'
        f'white-space:nowrap;text-overflow:ellipsis">{text(meta_line(show)) or "&nbsp;"}</div>'
        f'<div title="{text(show.description or "")}" style="{clamp}-webkit-line-clamp:3;'
        f'font-size:.85rem;color:#334155;margin-top:6px;height:4.1em;line-height:1.37">'
        f'{text(description) if description else "<i style=color:#94a3b8>No description yet.</i>"}</div>'
        f'<div class="shows-reason" style="font-size:.82rem;color:#4338ca;background:#eef2ff;border-radius:8px;'
        f'padding:6px 9px;margin-top:8px;height:5.6em;box-sizing:border-box;line-height:1.4">'
        f'<div style="{clamp}-webkit-line-clamp:3">{text(show.reason)}</div></div>'
        f'</div>'
    )


def grid(shows: Sequence[RecommendedShow], user_id: str, ratings_path: str, columns: int = 4) -> None:
    """The recommended shows as rows of ``columns`` cards, best first."""
    with st.container(key="shows_results"):
        for start in range(0, len(shows), columns):
            row = st.columns(columns)
            for column, (rank, show) in zip(row, enumerate(shows[start : start + columns], start=start + 1),
                                            strict=False):
                with column:
                    card(show, rank, user_id, ratings_path)


@st.fragment
def card(show: RecommendedShow, rank: int, user_id: str, ratings_path: str) -> None:
    """One recommended show with 👍 / 👎 buttons; rating reruns only this card."""
    choice = st.session_state.setdefault(RATED, {}).get(show.id)
    with st.container(border=True, key=f"shows_card_{show.id}"):
        st.markdown(card_html(show, rank), unsafe_allow_html=True)
        with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False):
            st.caption(f"score {show.score:.3f}", width="stretch")
            for liked, icon in ((True, ":material/thumb_up:"), (False, ":material/thumb_down:")):
                verb = "like" if liked else "do not like"
                st.button("", key=f"shows_{'like' if liked else 'dislike'}_{show.id}", on_click=rate,
                          args=(show, user_id, liked, ratings_path), icon=icon,
                          type="primary" if choice is liked else "secondary",
                          help=f"I {verb} {show.title}" + (" (saved)" if choice is liked else ""))


def rate(show: RecommendedShow, user_id: str, liked: bool, ratings_path: str) -> None:
    """POST the rating (a callback, so the card redraws with the answer marked) and say so in a toast."""
    rating = Rating(user_id=user_id, show_id=show.id, liked=liked)
    try:
        saved = client.post(ratings_path, rating.model_dump(), model=RatingSaved)
    except client.ApiError as exc:
        st.toast(f"Could not save your rating: {exc.message}", icon=":material/error:")
        return
    st.session_state.setdefault(RATED, {})[saved.show_id] = saved.liked
    st.toast(f"Thanks! Saved that you {'like' if saved.liked else 'do not like'} **{text(show.title)}**.",
             icon=":material/thumb_up:" if liked else ":material/thumb_down:")
