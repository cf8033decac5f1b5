"""Home: what GEOM does, a picture of its 72 transforms, and what to click first.

Works on a fresh machine with no data folder and no runs: the picture uses the current run's
dataset when one is chosen, else the offline ``digits`` dataset bundled with scikit-learn.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from core.data import DataError
from core.transforms import TransformSet
from explorer import state
from explorer.charts import show
from explorer.figures.style import STATIC_CHART
from explorer.figures.transforms import transform_grid


@st.cache_data(show_spinner=False, max_entries=8)
def transforms_picture(dataset_name: str, cls: int, pick: int) -> go.Figure:
    """The 72 transforms of one training image of class ``cls``: 8 rows (flip and rotation) of 9 shifts."""
    data = state.dataset(dataset_name)
    members = np.flatnonzero(data.y_train == cls) if cls < data.num_classes else np.arange(len(data.y_train))
    image = data.x_train[members[pick % len(members)]]
    ts = TransformSet.paper(data.image_size)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    return transform_grid(ts.apply_all(x).permute(0, 2, 3, 1).numpy(), ts, tile_px=80)


st.title("GEOM Explorer")
st.markdown(
    """
**Deep anomaly detection using geometric transformations** (Golan & El-Yaniv, NeurIPS 2018), to explore.

1. Take images of one **normal** class only (say, the digit 3) and apply each of **72 geometric
   transforms**: horizontal flip or not × 9 shifts × 4 rotations by 90°.
2. Train a classifier to tell **which transform was applied**. Recognising that a 3 is upside down
   needs knowing what a 3 looks like, so the network learns the normal class's shape; no labels needed.
3. At test time, transform a new image all 72 ways and ask the classifier. An image whose transforms
   it **cannot read** is unlike the training images: **anomalous**. A Dirichlet fit of the softmax outputs on
   normal images turns this into one normality score (higher = more normal).
"""
)

run = state.current_run()
# The run's normal class (an out-of-distribution run has none: its first class), else a 7: lopsided, so
# every flip and rotation shows.
name, cls = (run.meta["dataset"], int(run.meta["normal_class"] or 0)) if run else ("digits", 7)
st.subheader(f"The 72 transforms of a {name} training image")
pick = st.number_input("Another image", min_value=0, value=0, step=1,
                       help="Rows: rotation, unflipped then flipped; columns: the 9 shifts by a quarter of the side "
                            "(edges mirrored). Every matrix and grid of the explorer orders the transforms so.")
try:
    show(transforms_picture(name, cls, int(pick)), width="content", config=STATIC_CHART)
except DataError as exc:
    st.warning(f"Cannot load {name} here: {exc}")

st.subheader("What to click first")
st.markdown(
    """
1. In the sidebar, keep **Dataset: digits** (works offline), choose a **Normal class**, keep **Preset: tiny**,
   press **Train** (a minute or two on a CPU; *quick* takes a few minutes and detects much better, *paper* wants
   a GPU).
   Or open a saved run made with `python -m core run` under **Open a saved run**.
2. **Scores**: ROC and PR curves next to the paper's numbers, which other classes get confused with the normal one,
   and the test images on either side of a threshold you move.
3. **Transforms**: which of the 72 transforms the model recognises on normal images and on anomalies.
4. **Score your image**: upload a picture and see where it lands.
5. **Compare two runs**: train a second run (another seed, preset, class or set of transforms) and set the two
   side by side.
"""
)
