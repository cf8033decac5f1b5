"""Scores: how well the chosen detector separates normal from anomalous test images, and where it fails.

Everything here is read from the run folder (scores.npz) and the dataset's test images: nothing is
rescored, so the page renders in well under a second once a run is trained.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.data import DataError
from core.metrics import NO_ANOMALIES, auroc_per_class, rates_at_threshold, threshold_at_tpr
from core.paper_tables import paper_value
from core.runs import DamagedRunError, RunInfo
from core.scores import dirichlet_scale_note, format_score
from core.threshold import SavedThreshold, is_anomaly
from explorer import state
from explorer.charts import show
from explorer.figures.gallery import display_images
from explorer.figures.history import training_curves_figure
from explorer.figures.scores import per_class_auroc_figure, pr_figure, roc_figure, score_histogram

SCORES = {"dirichlet": "Dirichlet (the paper's score)",
          "simple": "simplified (mean probability of the right transform)"}
METRICS = {"auroc": "AUROC", "aupr_in": "AUPR-in", "aupr_out": "AUPR-out"}
N_SHOWN = 9


def training_panel(run: RunInfo) -> None:
    """Loss and accuracy curves from history.json, so a reader can tell whether training converged."""
    with st.expander("Training curves"):
        try:
            history = run.history()
        except DamagedRunError as exc:
            st.warning(f"Training history unreadable: {exc}")
            return
        if not history:
            st.caption("This run has no training history (history.json): it was trained before runs kept one, "
                       "or by a method without a training loop.")
            return
        last = history[-1]
        show(training_curves_figure(history, f"Training · final loss {last['loss']:.3f} · "
                                             f"accuracy {100 * last['accuracy']:.1f}%"))


def saved_threshold_caption(saved: SavedThreshold) -> str:
    return (f"The **saved threshold** ({format_score(saved.normality)}) was set when the model was trained: "
            f"{100 * saved.contamination:g}% of {saved.held_out_images} normal training images held out of "
            "training score below it (the contamination). `predict()` and `python -m core score` decide by it.")


def normal_only(run: RunInfo, method: str, score: np.ndarray, score_name: str) -> None:
    """A run on normal-only data has no anomalies to rank against: no AUROC, ROC or PR, only how the
    normal test images score (the lowest are the ones the model finds least like its training set),
    and how many of them the saved threshold calls anomalous."""
    st.info(f"{NO_ANOMALIES[0].upper()}{NO_ANOMALIES[1:]}: every test image is normal, so there is no ROC "
            "or PR curve. Below, how the normal test images score.")
    saved = state.score_threshold(run, method)
    if saved is not None:
        flagged = float(is_anomaly(-score, saved.anomaly_score).mean())
        st.caption(f"{saved_threshold_caption(saved)} It calls {100 * flagged:.1f}% of these normal test images "
                   "anomalous.")
    show(score_histogram(np.ones(len(score), bool), score, None, score_name,
                         saved_threshold=None if saved is None else saved.normality))
    training_panel(run)


run = state.require_run()
meta = run.meta
st.title(f"Scores · {meta['dataset']} · normal class {meta['class_label']}")
method = st.radio("Normality score (higher = more normal)", list(SCORES), format_func=SCORES.get, horizontal=True)
s = state.run_scores(run)
is_normal, score = s.is_normal, s.score(method)
names = meta["class_names"]
if not run.metrics.get(method):
    normal_only(run, method, score, SCORES[method].split(" (")[0] + " score")
    st.stop()

paper = {m: paper_value(meta["dataset"], meta["normal_class"], m) for m in METRICS}
for col, (m, label) in zip(st.columns(3), METRICS.items(), strict=True):
    ours = 100 * run.metrics[method][m]
    ref = paper[m]
    col.metric(label, f"{ours:.1f}", None if ref is None else f"{ours - ref.mean:+.1f} vs paper's {ref.mean:.1f}",
               help="The paper's Table value is GEOM with the Dirichlet score, full training." if ref else
               "The paper reports no number for this dataset.")
st.caption(f"{len(score)} test images, {int(is_normal.sum())} normal · {meta['preset']} preset · seed {meta['seed']}")
if method == "dirichlet":
    st.caption(f"{dirichlet_scale_note(score)} It is the *p* under the images below.")

left, right = st.columns(2)
show(roc_figure(is_normal, score, None if paper["auroc"] is None else paper["auroc"].mean / 100), left)
show(pr_figure(is_normal, score, None if paper["aupr_in"] is None else paper["aupr_in"].mean / 100), right)

lo, hi = float(score.min()), float(score.max())
hi = hi if hi > lo else lo + 1.0  # a slider needs a range, even if a collapsed model scores all alike
step = (hi - lo) / 500
threshold = st.slider("Threshold: images scoring at or above it are called normal", lo, hi,
                      value=threshold_at_tpr(is_normal, score, 0.95), step=step,
                      format=f"%.{max(0, 2 - math.floor(math.log10(step)))}f", key=f"threshold-{method}-{run.path}",
                      help="Starts at the score that keeps 95% of the normal test images (TPR 95%).")
rates = rates_at_threshold(is_normal, score, threshold)
a, b, c, d = st.columns(4)
a.metric("TPR: normal images called normal", f"{100 * rates['tpr']:.1f}%")
b.metric("FPR: anomalies called normal", f"{100 * rates['fpr']:.1f}%")
saved = state.score_threshold(run, method)
if saved is not None:
    saved_rates = rates_at_threshold(is_normal, score, saved.normality)
    c.metric("Saved threshold: TPR", f"{100 * saved_rates['tpr']:.1f}%",
             help="The share of normal test images the run's saved threshold calls normal.")
    d.metric("Saved threshold: FPR", f"{100 * saved_rates['fpr']:.1f}%",
             help="The share of anomalous test images the run's saved threshold calls normal.")
    st.caption(saved_threshold_caption(saved))

left, right = st.columns(2)
show(score_histogram(is_normal, score, threshold, SCORES[method].split(" (")[0] + " score",
                     saved_threshold=None if saved is None else saved.normality), left)
show(per_class_auroc_figure(auroc_per_class(s.labels, is_normal, score), names, run.metrics[method]["auroc"]), right)


training_panel(run)

try:
    images = state.run_dataset(run).x_test[s.test_index]
except (DataError, IndexError) as exc:
    st.warning(f"Test images unavailable, so no galleries: {exc}")
    st.stop()


def gallery(title: str, positions: np.ndarray, empty: str = "") -> None:
    """One row of up to N_SHOWN scored images, each with its dataset test index, class and score
    percentile among normals, and links to that image on the Transforms and Attributions pages."""
    st.markdown(f"**{title}**")
    if len(positions) == 0:
        st.caption(empty)
        return
    positions = positions[:N_SHOWN]
    tiles = display_images(images[positions])
    for col, tile, c in zip(st.columns(N_SHOWN), tiles, s.cases(method, positions), strict=False):
        col.image(tile, width=96, caption=f"#{c.test_index} · {names[c.label]} · p{c.percentile:.0f}")
        col.caption(state.image_links(run, c.test_index))


st.subheader("Test images")
st.caption("Under each image: #its number in the dataset's test set · its true class · p = percentile of its score "
           "among the normal test images; its links open it on the Transforms and Attributions pages.")
fp = s.ranked(method, normal=False, highest_first=True)
fp = fp[score[fp] >= threshold]  # anomalies called normal, worst first
fn = s.ranked(method, normal=True)
fn = fn[score[fn] < threshold]  # normal images called anomalous, worst first
gallery("Most normal test images", s.ranked(method, highest_first=True))
gallery("Most anomalous test images", s.ranked(method))
gallery(f"False positives: anomalies called normal ({len(fp)})", fp, "None at this threshold.")
gallery(f"False negatives: normal images called anomalous ({len(fn)})", fn, "None at this threshold.")
