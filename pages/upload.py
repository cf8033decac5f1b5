"""Score your own image: upload a picture, see it as the model sees it, and where it falls among normal images."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from core.bitdepth import to_8bit
from core.data import DataError
from core.images import (
    ImageFileError,
    ImageReport,
    describe_preparation,
    inspect_image,
    open_image,
    should_invert,
    to_dataset_shape,
)
from core.metrics import threshold_at_tpr
from core.runs import RunInfo
from core.scores import dirichlet_scale_note, format_score
from core.threshold import is_anomaly
from explorer import state
from explorer.charts import show
from explorer.figures.gallery import on_mat
from explorer.figures.scores import score_histogram
from explorer.figures.style import HIGHLIGHT_COLOR
from explorer.figures.transforms import softmax_heatmap, transform_grid

UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "webp"]
SCORE_NAMES = {"dirichlet": "Dirichlet score", "simple": "simplified score"}


@st.cache_data(show_spinner="Running the classifier on every transform of your image…", max_entries=32)
def image_report(run_path: str, mtime: float, image: np.ndarray) -> ImageReport:
    """Cached by the prepared pixels: moving the threshold or switching score never rescores."""
    return inspect_image(state.detector(run_path, mtime), image)


def invert_choice(img: Image.Image, run: RunInfo, channels: int) -> bool:
    """The user's choice of polarity, defaulting to the opposite of the upload's if that differs from
    the training images'; judged on the upload as decoded, since padding would make any border black."""
    if channels != 1:
        return False
    return st.checkbox("Invert grey levels", value=should_invert(img, training_sample(run)),
                       help="The training images are light strokes on a dark background (or the reverse); "
                            "an image of the opposite polarity is an anomaly for that reason alone.")


def training_sample(run: RunInfo) -> np.ndarray:
    """A few training images (any class) to compare an upload's polarity with; empty if the data are absent."""
    try:
        return state.run_dataset(run).x_train[:500]
    except DataError:  # a run opened where its dataset is not: scoring an upload needs only the model
        return np.zeros((0, 1, 1, 1), np.uint8)


run = state.require_run()
det, scores = state.run_detector(run), state.run_scores(run)
channels, size = det.config.in_channels, det.config.image_size
st.title("Score your own image")
st.markdown(f"The model was trained on **{run.meta['dataset']} · {run.meta['class_label']}**. Your image is converted "
            f"the way its training images were ({describe_preparation(channels, size, run.meta['dataset'])}), scored "
            "under every transform, and placed among the test images' scores.")
upload = st.file_uploader("An image file", type=UPLOAD_TYPES, help="At most 20 MB and 50 megapixels.")
if upload is None:
    st.info("Upload a PNG, JPEG, BMP or WebP image to score it.")
    st.stop()
try:
    img = open_image(upload.getvalue())
except ImageFileError as exc:
    st.error(f"Cannot score **{upload.name}**: {exc}")
    st.stop()
x = to_dataset_shape(img, channels, size, run.meta["dataset"], invert=invert_choice(img, run, channels))

original, model_input, verdict_col = st.columns([1, 1, 2])
original.image(to_8bit(img),  # a browser cannot show 16-bit pixels
               caption=f"{upload.name} ({img.size[0]} x {img.size[1]} px, mode {img.mode})")
model_input.image(on_mat(x, 160), caption=f"as the model sees it ({size} x {size}, on a coloured mat)")
report = image_report(str(run.path), state.run_mtime(run), x)
method = verdict_col.radio("Score", list(SCORE_NAMES), format_func=SCORE_NAMES.get, horizontal=True)
tpr = verdict_col.slider("Threshold: share of normal test images called normal (TPR)", 0.50, 1.0, 0.95, 0.01)
value = report.dirichlet if method == "dirichlet" else report.simple
normal, s = scores.is_normal, scores.score(method)
threshold = threshold_at_tpr(normal, s, tpr)
percentile = scores.percentile(method, value)
fpr = float(np.mean(s[~normal] >= threshold)) if (~normal).any() else float("nan")
verdict_col.metric(SCORE_NAMES[method], format_score(value), help="Higher = more normal.")
verdict_col.markdown(f"**{percentile:.0f}%** of the normal test images score at or below it (its percentile). "
                     f"The threshold {format_score(threshold)} calls {100 * tpr:.0f}% of the normal and "
                     f"{100 * fpr:.0f}% of the anomalous test images normal.")
if method == "dirichlet":
    verdict_col.caption(dirichlet_scale_note(s))
if value >= threshold:
    verdict_col.success(f"**Normal** at this threshold: it looks like {run.meta['class_label']}.")
else:
    verdict_col.warning(f"**Anomalous** at this threshold: unlike {run.meta['class_label']}.")
saved = state.score_threshold(run, method, verdict_col)
if saved is not None:
    anomalous = bool(is_anomaly(np.array([-value]), saved.anomaly_score)[0])
    saved_tpr = float(np.mean(s[normal] >= saved.normality)) if normal.any() else float("nan")
    saved_fpr = float(np.mean(s[~normal] >= saved.normality)) if (~normal).any() else float("nan")
    verdict_col.metric("Saved threshold's verdict", "anomaly" if anomalous else "normal",
                       help="What predict() and `python -m core score` say of this image.")
    verdict_col.caption(f"The saved threshold {format_score(saved.normality)} was set when the model was trained, so "
                        f"that {100 * saved.contamination:g}% of {saved.held_out_images} held-out normal training "
                        f"images score below it. It calls {100 * saved_tpr:.0f}% of the normal test images normal "
                        f"(TPR) and {100 * saved_fpr:.0f}% of the anomalous ones (FPR).")

fig = score_histogram(normal, s, threshold, SCORE_NAMES[method],
                      saved_threshold=None if saved is None else saved.normality)
left_half = value < np.median(s)  # label on the side facing the data, clear of the legend
fig.add_vline(x=value, line=dict(color=HIGHLIGHT_COLOR, width=3), annotation_text="your image",
              annotation_position="top right" if left_half else "top left", annotation_font_color=HIGHLIGHT_COLOR)
show(fig)
with st.expander("How the classifier sees it: its softmax matrix and transformed versions"):
    show(softmax_heatmap(report.softmax, det.transforms, "Its softmax matrix (row = applied transform)"),
         width="content")
    show(transform_grid(report.transformed, det.transforms, report.correct_prob,
                        title="p(right transform) under each transform"), width="content")
