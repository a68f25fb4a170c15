"""Server-made SVG charts: the same markup in the page and in WeasyPrint PDFs.

Only SVG presentation attributes are used (no ``style=``, no ``<script>``), so the charts work
under ``style-src 'self'``. Every inserted text is escaped; labels are passed in by the caller
(already translated). Colours against white: bars #1d4ed8 (6.70:1), planned line #b45309
(5.02:1), text #1f2937 (14.68:1), axes #4b5563 (7.56:1); the grid (#d1d5db) is decorative.
"""

from __future__ import annotations

import itertools
import math
import unicodedata

from markupsafe import Markup, escape

BAR_FILL = "#1d4ed8"
PLANNED_STROKE = "#b45309"
TEXT_FILL = "#1f2937"
AXIS_STROKE = "#4b5563"
GRID_STROKE = "#d1d5db"
FONT = 'font-family="DejaVu Sans, Liberation Sans, sans-serif"'

WIDTH, HEIGHT = 640, 320
X0, X1 = 56, 624  # plot area, left and right
Y0, Y1 = 28, 236  # plot area, top and baseline
_ids = itertools.count(1)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _scale_max(values: list[int]) -> tuple[int, int]:
    """(top of the y axis, tick step): a round step (10, 20, 25, 50, 100 ...), at most 8 steps."""
    top = max([10, *values])
    magnitude = 1
    while True:
        for step in (10 * magnitude, 20 * magnitude, 25 * magnitude, 50 * magnitude):
            if math.ceil(top / step) <= 8:
                return step * math.ceil(top / step), step
        magnitude *= 10


def _text(
    x: float, y: float, text: object, anchor: str = "middle", size: int = 12, cls: str = ""
) -> str:
    marked = f' class="{cls}"' if cls else ""
    return (
        f'<text{marked} x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{TEXT_FILL}" {FONT}>{escape(str(text))}</text>'
    )


def run_minutes_chart(
    planned: list[int],
    done: list[int | None],
    *,
    title: str,
    desc: str,
    week_label: str = "Week",
    unit_label: str = "min",
    planned_label: str = "Planned",
    done_label: str = "Done",
    empty_label: str = "No data",
    id_prefix: str | None = None,
) -> Markup:
    """Planned run minutes per week as a dashed step line, done minutes as solid bars.

    ``done[i] is None`` means no session that week (no bar). The lists may differ in length;
    the chart covers the longer one. No weeks at all gives a frame with ``empty_label``.
    """
    prefix = escape(id_prefix or f"chart-{next(_ids)}")
    title_id, desc_id = f"{prefix}-title", f"{prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" id="{prefix}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    weeks = max(len(planned), len(done))
    if weeks == 0:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, empty_label, size=16))
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every inserted text is escaped above

    plan = [max(0, int(v)) for v in planned] + [None] * (weeks - len(planned))
    did = [None if v is None else max(0, int(v)) for v in done] + [None] * (weeks - len(done))
    top, step = _scale_max([v for v in plan + did if v is not None])
    plot_h, slot = Y1 - Y0, (X1 - X0) / weeks

    def y_of(value: int) -> float:
        return Y1 - value / top * plot_h

    # Grid, y ticks and unit.
    parts.append('<g class="y-axis">')
    for tick in range(0, top + 1, step):
        y = y_of(tick)
        if tick:
            parts.append(
                f'<line x1="{X0}" y1="{_num(y)}" x2="{X1}" y2="{_num(y)}" '
                f'stroke="{GRID_STROKE}" stroke-width="1"/>'
            )
        parts.append(_text(X0 - 6, y + 4, tick, anchor="end"))
    parts.append(_text(X0 - 6, Y0 - 12, unit_label, anchor="end"))
    parts.append("</g>")

    # Done minutes: bars.
    parts.append(f'<g class="done" fill="{BAR_FILL}">')
    for i, value in enumerate(did):
        if value is None:
            continue
        h = value / top * plot_h
        parts.append(
            f'<rect x="{_num(X0 + i * slot + slot * 0.2)}" y="{_num(Y1 - h)}" '
            f'width="{_num(slot * 0.6)}" height="{_num(h)}"/>'
        )
    parts.append("</g>")

    # Planned minutes: dashed step line across each week's slot.
    segments = []
    for i, value in enumerate(plan):
        if value is None:
            continue
        command = "L" if segments and plan[i - 1] is not None else "M"
        segments.append(f"{command}{_num(X0 + i * slot)} {_num(y_of(value))}")
        segments.append(f"H{_num(X0 + (i + 1) * slot)}")
    if segments:
        parts.append(
            f'<path class="planned" d="{" ".join(segments)}" fill="none" '
            f'stroke="{PLANNED_STROKE}" stroke-width="3" stroke-dasharray="8 5"/>'
        )

    # Axes and week numbers (thinned out so that labels never overlap).
    parts.append(
        f'<path d="M{X0} {Y0} V{Y1} H{X1}" fill="none" stroke="{AXIS_STROKE}" stroke-width="1"/>'
    )
    every = math.ceil(weeks / 26)
    for i in range(0, weeks, every):
        parts.append(_text(X0 + (i + 0.5) * slot, Y1 + 18, i + 1))
    parts.append(_text((X0 + X1) / 2, Y1 + 38, week_label))

    # Legend: line style and bar shape plus text, not colour alone.
    ly = HEIGHT - 22
    parts.append('<g class="legend">')
    parts.append(
        f'<line x1="{X0}" y1="{ly}" x2="{X0 + 32}" y2="{ly}" stroke="{PLANNED_STROKE}" '
        f'stroke-width="3" stroke-dasharray="8 5"/>'
    )
    parts.append(_text(X0 + 40, ly + 4, planned_label, anchor="start"))
    lx = X0 + 240
    parts.append(f'<rect x="{lx}" y="{ly - 8}" width="16" height="16" fill="{BAR_FILL}"/>')
    parts.append(_text(lx + 24, ly + 4, done_label, anchor="start"))
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 - every inserted text is escaped above


# Advance widths of the fonts the charts name (DejaVu Sans, Liberation Sans): the wider of the
# two, in thousandths of the font size, rounded up within each group. Accented letters measure
# as their base letter; any other character counts as a full em, so an estimate is never short.
_ADVANCES = {
    295: "'ijlI",
    337: " ,.’‘·/:;\\|",
    361: "f-",
    412: "()[]t!r",
    460: '"',
    525: "*J`°“”sz",
    558: "c?_–L",
    592: "kvxy",
    637: "FTo«»aehnubdgpq$0123456789{}€",
    687: "EKPSYAVXZB",
    732: "CRU",
    771: "NHD",
    788: "G&OQ",
    838: "w#+<=>^~×",
    863: "M",
    975: "%m",
    1000: "W—…",
    1016: "@",
}
_ADVANCE = {char: width for width, chars in _ADVANCES.items() for char in chars}


def text_width(text: str, size: float = 12) -> float:
    """The width of `text` at font size `size`: at least what a browser or WeasyPrint draws it
    with in either font the charts name."""
    total = 0
    for char in str(text):
        base = unicodedata.normalize("NFD", char)[0]
        total += _ADVANCE.get(char, _ADVANCE.get(base, 1000))
    return total * size / 1000


def wrap(text: str, width: float, size: float = 12) -> list[str]:
    """`text` in lines of at most `width` (estimated), broken between words; a word wider
    than a line on its own is broken where it must."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
            continue
        while text_width(word, size) > width and len(word) > 1:
            fits = [n for n in range(1, len(word)) if text_width(word[:n], size) <= width]
            cut = max(fits, default=1)
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]


BAR_FONT, BAR_LINE, BAR_PAD, BAR_GAP = 12, 15, 8, 6
MIN_PLOT = 200  # the bars keep at least this width; labels wider than what is left wrap


def bar_chart(
    items: list[tuple[str, int | None, str]],
    *,
    title: str,
    desc: str,
    empty_label: str = "No data",
    id_prefix: str | None = None,
) -> Markup:
    """Horizontal bars, one per (label, value, shown text). `value` None is a withheld count:
    it gets no bar (a bar would show its size) and its shown text (such as "<5") stands alone,
    marked `class="withheld"`. Labels sit left of the bars, whole (wrapped over lines where
    they are long), and values right of them; all of it inside the viewBox."""
    prefix = escape(id_prefix or f"chart-{next(_ids)}")
    title_id, desc_id = f"{prefix}-title", f"{prefix}-desc"
    value_w = max([text_width(shown, BAR_FONT) for _, _, shown in items] or [0])
    label_room = WIDTH - 2 * BAR_PAD - BAR_GAP - value_w - BAR_GAP - MIN_PLOT
    labels = [wrap(label, label_room, BAR_FONT) for label, _, _ in items]
    label_w = max([text_width(line, BAR_FONT) for lines in labels for line in lines] or [0])
    x0 = BAR_PAD + label_w + BAR_GAP  # the bars' axis
    x1 = WIDTH - BAR_PAD - value_w - BAR_GAP  # where the longest bar ends
    heights = [max(28, len(lines) * BAR_LINE + 13) for lines in labels]
    top_pad = 12
    height = max(top_pad * 2 + sum(heights), 60)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" id="{prefix}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    if not items:
        parts.append(_text(WIDTH / 2, height / 2 + 6, empty_label, size=16))
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704 - every inserted text is escaped above
    top = max([1, *(v for _, v, _ in items if v is not None)])
    parts.append(
        f'<line x1="{_num(x0)}" y1="{top_pad}" x2="{_num(x0)}" y2="{height - top_pad}" '
        f'stroke="{AXIS_STROKE}" stroke-width="1"/>'
    )
    y = top_pad
    for (_label, value, shown), lines, row_h in zip(items, labels, heights, strict=True):
        middle = y + row_h / 2
        first = middle - (len(lines) - 1) * BAR_LINE / 2 + 4
        spans = "".join(
            f'<tspan x="{_num(x0 - BAR_GAP)}" y="{_num(first + n * BAR_LINE)}">{escape(line)}'
            "</tspan>"
            for n, line in enumerate(lines)
        )
        parts.append(
            f'<text class="label" text-anchor="end" font-size="{BAR_FONT}" fill="{TEXT_FILL}" '
            f"{FONT}>{spans}</text>"
        )
        width = 0.0 if value is None else (x1 - x0) * value / top
        if width:
            parts.append(
                f'<rect class="bar" x="{_num(x0)}" y="{_num(middle - 9)}" width="{_num(width)}" '
                f'height="18" fill="{BAR_FILL}"/>'
            )
        marked = "withheld" if value is None else "value"
        parts.append(_text(x0 + width + BAR_GAP, middle + 4, shown, anchor="start", cls=marked))
        y += row_h
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every inserted text is escaped above


# The dot map's shades, light to dark, each with a darker outline; text labels stay #1f2937.
# The shades say the class; every dot also carries its figure in its <title> and the page has
# the same figures in a table, so colour is never the only way to read them.
MAP_SHADES = ("#dbeafe", "#93c5fd", "#3b82f6", "#1d4ed8", "#1e3a8a")
MAP_OUTLINE = "#1e3a8a"
MAP_EMPTY = "#ffffff"  # a withheld or empty area: an outline only
MAP_SIZE = 480  # the longer side of the map, in SVG units
MAP_DOT = 9.0


def shade_classes(values: list[float]) -> list[float]:
    """The upper bounds of up to five shade classes for `values` (equal steps from 0 to the
    largest value), so that a darker dot means more."""
    top = max(values, default=0)
    if top <= 0:
        return []
    return [top * step / len(MAP_SHADES) for step in range(1, len(MAP_SHADES) + 1)]


def dot_map(
    areas: list[tuple[str, float, float, float | None, str]],
    *,
    title: str,
    desc: str,
    legend: str,
    empty_label: str = "No data",
) -> Markup:
    """A map of postcode areas as dots at their centres, one per (label, latitude, longitude,
    value or None, shown text): the darker the dot, the higher the value; None (withheld or
    nothing) is an outlined dot. Projected equirectangularly around the areas' mean latitude
    (distances are true to scale across a municipality). Each dot's <title> names its area and
    figure; no tiles, images or fonts from elsewhere."""
    prefix = f"map-{next(_ids)}"
    title_id, desc_id = f"{prefix}-title", f"{prefix}-desc"
    if not areas:
        return Markup(  # noqa: S704 - every inserted text is escaped
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {MAP_SIZE} 60" width="100%">'
            f'<title id="{title_id}">{escape(title)}</title>'
            f'<desc id="{desc_id}">{escape(desc)}</desc>'
            f"{_text(MAP_SIZE / 2, 34, empty_label)}</svg>"
        )
    mean_lat = sum(lat for _, lat, _, _, _ in areas) / len(areas)
    stretch = math.cos(math.radians(mean_lat))
    xs = [lon * stretch for _, _, lon, _, _ in areas]
    ys = [-lat for _, lat, _, _, _ in areas]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    pad = 24.0
    inner = MAP_SIZE - 2 * pad
    width = (max(xs) - min(xs)) / span * inner + 2 * pad
    height = (max(ys) - min(ys)) / span * inner + 2 * pad
    legend_h = 40
    bounds = shade_classes([v for *_, v, _ in areas if v is not None])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {_num(max(width, 320))} '
        f'{_num(height + legend_h)}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'class="map" id="{prefix}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{_num(max(width, 320))}" height="{_num(height + legend_h)}" '
        'fill="#ffffff"/>',
    ]
    for (label, _lat, _lon, value, shown), x, y in zip(areas, xs, ys, strict=True):
        cx = pad + (x - min(xs)) / span * inner
        cy = pad + (y - min(ys)) / span * inner
        if value is None or not bounds or value <= 0:
            fill = MAP_EMPTY
        else:
            fill = MAP_SHADES[next(i for i, top in enumerate(bounds) if value <= top + 1e-9)]
        parts.append(
            f'<circle class="area" cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(MAP_DOT)}" '
            f'fill="{fill}" stroke="{MAP_OUTLINE}" stroke-width="1.2">'
            f"<title>{escape(label)}: {escape(shown)}</title></circle>"
        )
    # The legend: the shades from light to dark, "more" at the dark end.
    y = height + 12
    parts.append(_text(pad, y + 12, legend, anchor="start", size=11))
    x = pad + text_width(legend, 11) + 10
    for shade in MAP_SHADES:
        parts.append(
            f'<rect x="{_num(x)}" y="{_num(y)}" width="18" height="14" fill="{shade}" '
            f'stroke="{MAP_OUTLINE}" stroke-width="0.8"/>'
        )
        x += 22
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every inserted text is escaped above
