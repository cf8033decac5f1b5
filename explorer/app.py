"""GEOM Explorer: ``streamlit run explorer/app.py``.

Wires the pages in the top-level pages/ folder with st.navigation, and puts the repository root on
sys.path so ``core`` imports without the user setting PYTHONPATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from explorer.sidebar import show_sidebar  # noqa: E402

# Material icons ship with Streamlit, so they render everywhere (emoji need a colour-emoji font,
# which headless and minimal Linux browsers lack).
PAGES = {
    "GEOM": [
        st.Page(str(ROOT / "pages" / "home.py"), title="Home", icon=":material/home:", default=True),
    ],
    "Inspect a model": [
        st.Page(str(ROOT / "pages" / "scores.py"), title="Scores", icon=":material/show_chart:"),
        st.Page(str(ROOT / "pages" / "transforms.py"), title="Transforms", icon=":material/grid_on:"),
        st.Page(str(ROOT / "pages" / "why.py"), title="Why this class fails", icon=":material/troubleshoot:"),
        st.Page(str(ROOT / "pages" / "upload.py"), title="Score your image", icon=":material/upload_file:"),
    ],
    "Compare": [
        st.Page(str(ROOT / "pages" / "compare.py"), title="Compare two runs", icon=":material/compare:"),
        st.Page(str(ROOT / "pages" / "results.py"), title="Results vs baselines", icon=":material/leaderboard:"),
        st.Page(str(ROOT / "pages" / "ood.py"), title="Out-of-distribution", icon=":material/scatter_plot:"),
    ],
    "Why it works": [
        st.Page(str(ROOT / "pages" / "ablation.py"), title="Transform invariance", icon=":material/flip:"),
        st.Page(str(ROOT / "pages" / "ascent.py"), title="Gradient ascent", icon=":material/trending_up:"),
        st.Page(str(ROOT / "pages" / "attribution.py"), title="Attributions", icon=":material/center_focus_strong:"),
    ],
}

st.set_page_config(page_title="GEOM Explorer", page_icon="🔍", layout="wide")
navigation = st.navigation(PAGES)
show_sidebar(navigation.title)
navigation.run()
