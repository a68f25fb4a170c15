"""The run-minutes SVG chart: well-formed, accessible, CSP-safe, and scaled correctly."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output

import pytest

from referrals import charts
from referrals.charts import run_minutes_chart

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def chart(planned=(6, 10, 15, 20, 30), done=(6, None, 15, 30), **kw):
    kw.setdefault("title", "Looptijd per week")
    kw.setdefault("desc", "Gepland: 6 tot 30 minuten; gedaan: 3 van 5 weken.")
    return parse(run_minutes_chart(list(planned), list(done), **kw))


def bars(root):
    return root.findall("svg:g[@class='done']/svg:rect", NS)


def test_well_formed_and_accessible():
    root = chart(id_prefix="runs")
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "runs-title runs-desc"
    assert root.find("svg:title", NS).get("id") == "runs-title"
    assert root.find("svg:title", NS).text == "Looptijd per week"
    assert root.find("svg:desc", NS).text.startswith("Gepland: 6 tot 30 minuten")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Week", "min", "Planned", "Done", "1", "5", "0", "30"} <= set(texts)
    assert root.find("svg:path[@class='planned']", NS).get("stroke-dasharray")


def test_texts_are_escaped():
    markup = run_minutes_chart(
        [10], [10], title="<b>&", desc="a < b & c", planned_label="<i>", id_prefix="x\"'"
    )
    assert "<b>" not in markup and "<i>" not in markup
    root = parse(markup)
    assert root.find("svg:title", NS).text == "<b>&"
    assert root.find("svg:desc", NS).text == "a < b & c"
    assert "<i>" in [t.text for t in root.iter(f"{SVG}text")]
    assert root.find("svg:b", NS) is None


def test_one_bar_per_done_session_and_proportional_heights():
    root = chart(planned=[15, 15, 30, 30], done=[15, None, 30, 0])
    heights = [float(r.get("height")) for r in bars(root)]
    assert len(heights) == 3
    assert heights[1] == pytest.approx(2 * heights[0])
    assert heights[2] == 0


def test_no_inline_style_or_script():
    markup = str(run_minutes_chart([10, 20], [5, 25], title="t", desc="d"))
    root = parse(markup)
    assert all("style" not in el.attrib for el in root.iter())
    assert root.find(".//svg:script", NS) is None
    assert "<script" not in markup.lower() and "style=" not in markup


def test_two_charts_get_different_ids():
    a, b = chart(), chart()
    ids_a = {el.get("id") for el in a.iter() if el.get("id")}
    ids_b = {el.get("id") for el in b.iter() if el.get("id")}
    assert ids_a and ids_b and not ids_a & ids_b


def test_empty_input_shows_no_data():
    root = chart(planned=[], done=[], empty_label="Geen gegevens")
    assert [t.text for t in root.iter(f"{SVG}text")] == ["Geen gegevens"]
    assert bars(root) == []
    assert chart(planned=[], done=[None, None]).find("svg:path[@class='planned']", NS) is None


def test_values_above_planned_fit_inside_viewbox():
    root = chart(planned=[10, 20], done=[95, 200, None])
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    rects = bars(root)
    assert len(rects) == 2
    for rect in rects:
        y, h = float(rect.get("y")), float(rect.get("height"))
        assert y >= 0 and y + h <= height
        assert 0 <= float(rect.get("x")) <= width
    tick_labels = [t.text for t in root.find("svg:g[@class='y-axis']", NS).iter(f"{SVG}text")]
    assert tick_labels == ["0", "25", "50", "75", "100", "125", "150", "175", "200", "min"]
    assert [t.text for t in chart(planned=[6, 30]).iter(f"{SVG}text")][:5] == [
        "0",
        "10",
        "20",
        "30",
        "min",
    ]


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_on_white(hex_colour: str) -> float:
    return 1.05 / (_luminance(hex_colour) + 0.05)


def test_colour_contrast_against_white():
    assert contrast_on_white(charts.TEXT_FILL) >= 4.5
    for graphic in (charts.BAR_FILL, charts.PLANNED_STROKE, charts.AXIS_STROKE):
        assert contrast_on_white(graphic) >= 3
