"""The explorer's colours and chart settings, one place for every figure and page to read them from.

Normal images are blue and anomalies red on every chart, the paper's numbers green, and each
method keeps its colour across the Results page, so a reader learns the code once. Lecture mode's
text sizes and colours are set here too (lecture_style), for every figure at once.
"""

from __future__ import annotations

import plotly.graph_objects as go

NORMAL_COLOR = "#1f77b4"
ANOMALY_COLOR = "#d62728"
PAPER_COLOR = "#2ca02c"
MIDDLING_COLOR = "#ff7f0e"  # neither good nor bad, e.g. an AUROC between 70 and 90
HIGHLIGHT_COLOR = "#9467bd"  # one item marked among many, e.g. an uploaded image on the score histogram
OTHER_COLOR = "#7f7f7f"  # anything without a colour of its own
# The Compare page's run A and run B: neither the normal blue nor the anomaly red, as each run has both.
RUN_COLORS = ("#3f3f8f", "#c45a00")

METHOD_COLORS: dict[str, str] = {
    "geom": NORMAL_COLOR,
    "raw-ocsvm-hindsight": "#ff7f0e",
    "raw-ocsvm-fair": "#ffbb78",
    "cae-ocsvm-hindsight": "#2ca02c",
    "cae-ocsvm-fair": "#98df8a",
    "deep-svdd": "#9467bd",
    "dsebm": "#8c564b",
    "dagmm": "#e377c2",
    "adgan": "#17becf",
    # the class head's scores on the out-of-distribution page (GEOM keeps its blue there too)
    "msp": "#bcbd22",
    "odin": "#7f7f7f",
}

# ``st.plotly_chart(..., config=STATIC_CHART)``: no toolbar over pictures that are not meant for zooming.
STATIC_CHART = {"displayModeBar": False}

# A horizontal legend above the plot, centred: a figure's title takes the left end of that strip and
# Streamlit's chart toolbar covers the right end (seen in 1400 px screenshots).
LEGEND_ABOVE = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0.5, "xanchor": "center"}

# Lecture mode (the sidebar's toggle; pages apply it through explorer.charts): text a projector shows.
LECTURE_FONT_PX = 14  # the smallest text on a lecture figure
LECTURE_TITLE_PX = 20
DARK_TEXT = "#111111"
_DARK_ENOUGH = 0.25  # relative luminance above which a text colour is too pale for a projector (contrast < 3.5)


def luminance(color: str) -> float | None:
    """Relative luminance (0 black .. 1 white) of a ``#rrggbb`` or ``rgb(a)(r, g, b...)`` colour; None
    for other spellings (named colours), which are left as they are."""
    c = color.strip().lower()
    if c.startswith("#") and len(c) == 7:
        rgb = [int(c[i:i + 2], 16) for i in (1, 3, 5)]
    elif c.startswith("rgb"):
        rgb = [float(v) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3]]
    else:
        return None
    lin = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _lecture_fonts(node: object, key: str = "") -> None:
    """In place: every font of a figure's dict at LECTURE_FONT_PX or more, and every pale text colour
    dark. Colours that carry meaning and read on white (a red probability, the paper's green) stay."""
    if isinstance(node, list):
        for item in node:
            _lecture_fonts(item, key)
        return
    if not isinstance(node, dict):
        return
    if key.endswith("font"):
        if isinstance(node.get("size"), (int, float)):
            node["size"] = max(node["size"], LECTURE_FONT_PX)
        color = node.get("color")
        if isinstance(color, str) and (luminance(color) or 0.0) > _DARK_ENOUGH:
            node["color"] = DARK_TEXT
    for child_key, child in node.items():
        _lecture_fonts(child, child_key)


def lecture_style(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` for a lecture hall: all text 14 px or more in dark colours, titles larger, axes
    that make room for their bigger labels, on plotly's white template (drawn as it is, without
    Streamlit's chart theme). The figure passed in is left as it is (pages cache figures)."""
    spec = fig.to_dict()
    _lecture_fonts(spec)
    out = go.Figure(spec)
    out.update_layout(template="plotly_white", font=dict(size=LECTURE_FONT_PX + 2, color=DARK_TEXT),
                      title_font=dict(size=max(LECTURE_TITLE_PX, out.layout.title.font.size or 0), color=DARK_TEXT),
                      hoverlabel=dict(font_size=LECTURE_FONT_PX + 2))
    out.update_xaxes(automargin=True, tickfont_color=DARK_TEXT, title_font_color=DARK_TEXT)
    out.update_yaxes(automargin=True, tickfont_color=DARK_TEXT, title_font_color=DARK_TEXT)
    return out
