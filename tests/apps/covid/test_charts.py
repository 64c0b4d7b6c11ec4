"""The covid page's headline sparkline: a small SVG image per tile instead of a Vega chart."""

from __future__ import annotations

import base64
import re

from shipml.apps.covid import charts


def svg_of(markup: str) -> str:
    source = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', markup)
    assert source, markup
    return base64.b64decode(source.group(1)).decode()


def test_a_sparkline_spans_the_tile_and_scales_to_its_own_range() -> None:
    markup = charts.sparkline([5, 10, 15], "New cases")
    svg = svg_of(markup)
    assert svg.count("<polyline") == 1
    points = re.search(r'points="([^"]+)"', svg).group(1).split()  # type: ignore[union-attr]
    assert points == ["0.00,38.00", "50.00,20.00", "100.00,2.00"]  # lowest at the bottom, highest at the top
    assert 'alt="New cases, last 3 days: 5 to 15"' in markup


def test_missing_days_leave_a_gap_instead_of_a_line_across_them() -> None:
    svg = svg_of(charts.sparkline([1, 2, None, 4, 5], "Deaths"))
    assert svg.count("<polyline") == 2
    assert "50.00" not in svg  # the missing middle day is not drawn


def test_a_flat_line_and_too_few_values() -> None:
    assert svg_of(charts.sparkline([3, 3, 3], "Active")).count("<polyline") == 1  # a flat line is drawn
    assert charts.sparkline([7], "Active") == ""
    assert charts.sparkline([None, 4, None], "Active") == ""
    assert charts.sparkline([], "Active") == ""


def test_a_label_cannot_break_the_markup() -> None:
    markup = charts.sparkline([1, 2], 'Cases "<b>"')
    assert "<b>" not in markup and "&quot;&lt;b&gt;&quot;" in markup
