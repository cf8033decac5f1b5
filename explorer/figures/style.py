"""The explorer's colours and chart settings, one place for every figure and page to read them from.

Normal images are blue and anomalies red on every chart, the paper's numbers green, and each
method keeps its colour across the Results page, so a reader learns the code once.
"""

from __future__ import annotations

NORMAL_COLOR = "#1f77b4"
ANOMALY_COLOR = "#d62728"
PAPER_COLOR = "#2ca02c"
MIDDLING_COLOR = "#ff7f0e"  # neither good nor bad, e.g. an AUROC between 70 and 90
HIGHLIGHT_COLOR = "#9467bd"  # one item marked among many, e.g. an uploaded image on the score histogram
OTHER_COLOR = "#7f7f7f"  # anything without a colour of its own

METHOD_COLORS: dict[str, str] = {
    "geom": NORMAL_COLOR,
    "raw-ocsvm-hindsight": "#ff7f0e",
    "raw-ocsvm-fair": "#ffbb78",
    "cae-ocsvm-hindsight": "#2ca02c",
    "cae-ocsvm-fair": "#98df8a",
    "deep-svdd": "#9467bd",
    "dsebm": "#8c564b",
    "dagmm": "#e377c2",
}

# ``st.plotly_chart(..., config=STATIC_CHART)``: no toolbar over pictures that are not meant for zooming.
STATIC_CHART = {"displayModeBar": False}
