"""The run-minutes SVG chart: well-formed, accessible, CSP-safe, and scaled correctly."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output

import pytest
from flask_babel import force_locale

from referrals import charts
from referrals.charts import bar_chart, run_minutes_chart

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


# The horizontal bar chart of the uptake dashboard and the programme report.

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core (make system-deps)
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",  # fonts-liberation
)
LONG_NAME = "Huisartsenpraktijk De Duinen en omstreken, locatie Noordwijk aan Zee-Binnen"


def text_extents(root):
    """(line, left, right) of every line of text, from its anchor and its estimated width."""
    for element in root.iter(f"{SVG}text"):
        anchor, size = element.get("text-anchor"), float(element.get("font-size"))
        spans = element.findall("svg:tspan", NS)
        lines = [(float(s.get("x")), s.text) for s in spans] or [
            (float(element.get("x")), element.text)
        ]
        for x, line in lines:
            width = charts.text_width(line, size)
            left = {"end": x - width, "middle": x - width / 2}.get(anchor, x)
            yield line, left, left + width


def bar_rows(root) -> list[tuple[str, list[ET.Element], ET.Element]]:
    """(label, its bar rects, its value text) per row, in order."""
    rows = []
    for element in root:
        if element.tag == f"{SVG}text" and element.get("class") == "label":
            label = " ".join(s.text for s in element.findall("svg:tspan", NS))
            rows.append((label, [], None))
        elif rows and element.tag == f"{SVG}rect" and element.get("class") == "bar":
            rows[-1][1].append(element)
        elif rows and element.tag == f"{SVG}text":
            rows[-1] = (rows[-1][0], rows[-1][1], element)
    return rows


def test_a_bar_per_shown_count_and_none_for_a_withheld_or_zero_one():
    root = parse(
        bar_chart(
            [
                ("2026-09", None, "<5"),
                ("2026-10", 7, "7"),
                ("2026-11", 0, "0"),
                ("2026-12", 14, "14"),
            ],
            title="Verwijzingen per maand",
            desc="d",
        )
    )
    rows = bar_rows(root)
    assert [label for label, _, _ in rows] == ["2026-09", "2026-10", "2026-11", "2026-12"]
    assert [len(bars) for _, bars, _ in rows] == [0, 1, 0, 1]
    october, december = (float(rows[i][1][0].get("width")) for i in (1, 3))
    assert october > 0 and december == pytest.approx(2 * october, abs=0.02)
    withheld = rows[0][2]
    assert (withheld.text, withheld.get("class")) == ("<5", "withheld")
    assert [value.get("class") for _, _, value in rows[1:]] == ["value"] * 3


@pytest.mark.parametrize("language", ["nl", "en"])
def test_funnel_labels_are_whole_and_every_text_fits_in_the_viewbox(app, language):
    from referrals.services.uptake.uptake_view import FUNNEL_LABELS

    with app.test_request_context(), force_locale(language):
        labels = [str(label) for label in FUNNEL_LABELS.values()] + [LONG_NAME]
    items = [(label, 1000 - 90 * i, f"{1000 - 90 * i}") for i, label in enumerate(labels)]
    items[3] = (labels[3], None, "<5")
    root = parse(bar_chart(items, title="Van verwijzing tot resultaat", desc="d"))
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    # Nothing cut off: each label is there in full (on one line or more).
    assert [label for label, _, _ in bar_rows(root)] == labels
    for line, left, right in text_extents(root):
        assert left >= 0 and right <= width, (line, left, right)
    assert all(0 < float(t.get("y")) < height for t in root.iter(f"{SVG}tspan"))
    # The long name wraps rather than pushing the bars out: every bar has room.
    assert min(float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class")) > 0
    assert len(root.findall("svg:text[@class='label']", NS)[-1].findall("svg:tspan", NS)) > 1


def test_the_width_estimate_is_never_short_of_the_fonts_the_chart_names():
    from fontTools.ttLib import TTFont

    sample = "".join(chr(c) for c in range(32, 127)) + "éëïöüÉçñ€–—…’“”«»×°·"
    for path in FONTS:
        font = TTFont(path)
        advances, glyphs = font["hmtx"], font.getBestCmap()
        per_em = font["head"].unitsPerEm
        for char in sample:
            true_width = advances[glyphs[ord(char)]][0] * 1000 / per_em
            assert charts.text_width(char, 1000) >= true_width - 0.5, (path, char)
    assert charts.text_width("木", 10) == 10  # unknown: a full em


def test_wrap_breaks_between_words_and_a_long_word_where_it_must():
    assert charts.wrap("Doorgestroomd naar reguliere sport", 120) == [
        "Doorgestroomd",
        "naar reguliere",
        "sport",
    ]
    lines = charts.wrap("Eenheelerglangwoord", 60)
    assert "".join(lines) == "Eenheelerglangwoord" and len(lines) > 1
    assert all(charts.text_width(line) <= 60 for line in lines)
