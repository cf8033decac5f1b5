"""Transforms: which transforms the classifier recognises, on the normal class, on anomalies, on one image."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.data import DataError
from core.dirichlet import dirichlet_contributions
from core.images import ImageReport, inspect_image
from core.runs import RunInfo
from core.scores import RunScores, dirichlet_scale_note, format_score
from explorer import state
from explorer.charts import show
from explorer.figures.gallery import display_images
from explorer.figures.style import STATIC_CHART
from explorer.figures.transforms import (
    contribution_bars,
    per_transform_accuracy_bars,
    softmax_difference_heatmap,
    softmax_heatmap,
    transform_grid,
)

NORMAL_REFERENCE = 32  # normal test images whose mean contributions are the yardstick for one image
SIDE_BY_SIDE_PX = 200  # a mean matrix's side, three to a row of a wide page
PICKS = ("most anomalous normal image", "most normal anomaly", "most normal normal image",
         "most anomalous anomaly", "a test image by number")
BY_NUMBER = PICKS[4]


@st.cache_data(show_spinner="Running the classifier on every transform of this image…", max_entries=256)
def image_report(run_path: str, mtime: float, dataset: str, test_index: int) -> ImageReport:
    """One test image's matrix, transformed versions and score terms, cached per (run, image)."""
    return inspect_image(state.detector(run_path, mtime), state.dataset(dataset).x_test[test_index])


@st.cache_data(show_spinner="Computing the normal images' contributions once for this run…", max_entries=16)
def normal_contributions(run_path: str, mtime: float, dataset: str, test_indices: tuple[int, ...]) -> np.ndarray:
    """Mean per-transform Dirichlet term over some normal test images: what 'normal' looks like."""
    det = state.detector(run_path, mtime)
    softmax = det.softmax_matrix(state.dataset(dataset).x_test[list(test_indices)])
    return dirichlet_contributions(softmax, det.alphas).mean(0)


def pick_position(scores: RunScores, how: str) -> int | None:
    """Position in the scored test set for one of PICKS (None: the user types a number)."""
    if how not in PICKS[:4]:
        return None
    order = scores.ranked("dirichlet", normal=how.endswith("normal image"), highest_first=how.startswith("most normal"))
    return int(order[0]) if len(order) else None


def position_by_number(scores: RunScores, box: DeltaGenerator, linked: int | None) -> int:
    """Position in the scored set of the image whose dataset test index the user types (the number
    every page shows); stops the page with a message if the run did not score that image."""
    first, last = int(scores.test_index.min()), int(scores.test_index.max())
    index = int(box.number_input(f"Test image number ({first}–{last}, in the dataset's test set)", first, last,
                                 first if linked is None else linked, step=1))
    pos = scores.position(index)
    if pos is None:
        st.warning(f"Test image #{index} is not among the {len(scores.test_index)} images this run scored; "
                   "pick another number.")
        st.stop()
    return pos


def auroc_note(run: RunInfo) -> str:
    """' (AUROC 93.1)' to back the claim that tiny differences still rank images; nothing for a run on
    normal-only data, which has no AUROC."""
    auroc = run.metrics.get("dirichlet", {}).get("auroc")
    return "" if auroc is None else f" (AUROC {100 * auroc:.1f})"


def reference_indices(scores: RunScores) -> tuple[int, ...]:
    """Up to NORMAL_REFERENCE normal test images, evenly spread over the test set (dataset indices)."""
    normal_idx = scores.test_index[scores.is_normal]
    step = max(1, len(normal_idx) // NORMAL_REFERENCE)
    return tuple(int(i) for i in normal_idx[::step][:NORMAL_REFERENCE])


run = state.require_run()
det, scores = state.run_detector(run), state.run_scores(run)
transforms, names, k = det.transforms, det.transforms.names, len(det.transforms)
normal = scores.is_normal
st.title("Transforms")
linked = state.linked_image(scores)  # read first, so a refused link is said at the top of the page
st.markdown(f"**{run.meta['dataset']} · normal class {run.meta['class_label']} · {k} transforms.** Each image is shown "
            "to the classifier under every transform; row *t* of its matrix is the softmax of T_t(x), "
            "column = the transform the classifier guesses. Normal images put their mass on the diagonal. "
            + ("Rows and columns go in blocks of one rotation (unflipped, then flipped), the shifts inside "
               "each; hover a cell for its transforms." if k > 12 else ""))

st.subheader("Mean softmax over the test set")
stretch = st.toggle("Stretch colours to the largest probability", value=False,
                    help="Off: every matrix on the same 0–1 scale. On: shows the structure of a weak model "
                         "whose probabilities all sit near 1/k.")
zmax = None if stretch else 1.0
groups = [("Normal", scores.mean_softmax_normal, int(normal.sum())),
          ("Anomalous", scores.mean_softmax_anomalous, int((~normal).sum()))]
groups = [g for g in groups if g[2] > 0]
columns = st.columns(3)
for column, (label, matrix, count) in zip(columns, groups, strict=False):  # no toolbar over their titles
    show(softmax_heatmap(matrix, transforms, f"{label} ({count})", zmax, SIDE_BY_SIDE_PX), column, width="content",
         config=STATIC_CHART)
if len(groups) == 2:
    show(softmax_difference_heatmap(groups[0][1], groups[1][1], transforms, "Normal − anomalous", SIDE_BY_SIDE_PX),
         columns[2], width="content", config=STATIC_CHART)
    st.caption("Right: where the normal images put more probability than the anomalies (blue) and less (red). "
               "The blue diagonal is GEOM's signal: the classifier recognises the transforms on normal images.")
largest = max(float(g[1].max()) for g in groups)
if not stretch and largest < 0.25:
    st.caption(f"This model's mean probabilities all sit near 1/{k} (the largest is {largest:.3f}), so on the 0–1 "
               f"scale the matrices look dark. Small but consistent differences still rank images"
               f"{auroc_note(run)}; switch on *Stretch colours* to see them.")
diag_normal = np.diagonal(scores.mean_softmax_normal)
diag_anom = np.diagonal(scores.mean_softmax_anomalous) if (~normal).any() else None
show(per_transform_accuracy_bars(diag_normal, diag_anom, transforms,
                                 "Probability of the right transform (the diagonal)"))
weakest = np.argsort(diag_normal)[: min(5, k)]
st.caption("Least recognised on normal images (the class looks alike under these, so they carry little signal): "
           + ", ".join(f"{names[t]} ({diag_normal[t]:.2f})" for t in weakest))

st.subheader("One test image")
try:
    data = state.run_dataset(run)
except DataError as exc:  # e.g. a run trained on a GPU box, opened where its dataset is absent
    st.warning(f"The test images of {run.meta['dataset']} are not available here, so single images cannot be "
               f"shown: {exc}")
    st.stop()
left, right = st.columns([2, 1])
how = left.selectbox("Image", PICKS, index=0 if linked is None else PICKS.index(BY_NUMBER))
pos = pick_position(scores, how)
if pos is None:
    pos = position_by_number(scores, right, linked)
index = int(scores.test_index[pos])
label = data.class_label(int(scores.labels[pos]))
dirichlet = scores.score("dirichlet")[pos]
percentile = scores.percentile("dirichlet", dirichlet)
result = image_report(str(run.path), state.run_mtime(run), run.meta["dataset"], index)
thumb, info = st.columns([1, 4])
thumb.image(display_images(data.x_test[index][None], 96)[0], caption=f"test image #{index}")
thumb.caption(f"[attributions]({state.image_link(run, 'attribution', index)})")
info.markdown(f"Class **{label}** ({'normal' if normal[pos] else 'anomaly'}) · Dirichlet score "
              f"**{format_score(dirichlet)}** (higher = more normal; **{percentile:.0f}%** of normal test images "
              f"score lower or equal) · simplified score **{format_score(scores.score('simple')[pos])}**")
info.caption(dirichlet_scale_note(scores.score("dirichlet")))
st.markdown("**Its softmax matrix**")
show(softmax_heatmap(result.softmax, transforms, zmax=zmax), width="content")
st.markdown("**Its transformed versions**, with the probability the classifier gives the right transform under each "
            "(rows: rotation, unflipped then flipped; columns: the shifts; hover a tile for its name)")
show(transform_grid(result.transformed, transforms, result.correct_prob), width="content")
reference_idx = reference_indices(scores)
reference = normal_contributions(str(run.path), state.run_mtime(run), run.meta["dataset"], reference_idx) \
    if reference_idx else None
st.markdown(f"**Per-transform terms of its Dirichlet score** (sum = {format_score(result.dirichlet)}, higher = more "
            f"normal); black marks: the mean of {len(reference_idx)} normal test images, red bars fall below it")
show(contribution_bars(result.contributions, transforms, reference))
