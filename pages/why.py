"""Why this class fails: which transforms carry the run's signal, read from its stored scores, and a
retraining without the ones that carry none. Nothing is rescored (core.why works on scores.npz)."""

from __future__ import annotations

import streamlit as st

from core.config import GeomConfig
from core.data import DataError
from core.experiment import rerun_request
from core.metrics import has_both_groups
from core.runs import RunInfo
from core.selection import AUTO
from core.transforms import TransformSet
from core.why import CHANCE_AUROC, Diagnosis, diagnose, reading
from explorer import state
from explorer.charts import show
from explorer.figures.why import class_auroc_bars, class_transform_heatmap, pair_tiles, transform_auroc_bars
from explorer.sidebar import queue_training

PAIRS_SHOWN = 4  # confused pairs drawn on an image, one row of tiles
HINDSIGHT = ("These transforms were picked with the test set's anomalies, so the retrained run's AUROC is "
             "optimistic (hindsight). The auto rule picks without anomaly labels, from held-out normal "
             "training images only (core/selection.py).")


@st.cache_data(show_spinner="Reading the run's transforms…", max_entries=16)
def diagnosis(run_path: str, mtime: float, config: dict) -> Diagnosis:
    """The run's core.why numbers, once per run (``mtime``: a retrained run in the same folder reads afresh)."""
    return diagnose(state.scores(run_path, mtime), GeomConfig.from_dict(config).transform_set())


def selection_panel(run: RunInfo) -> None:
    """For a run whose transforms the auto rule chose: what it dropped, and the twin each was taken for."""
    record = run.meta.get("transform_selection")
    if not record:
        return
    with st.expander(f"The auto rule chose this run's transforms: it kept {len(record['kept'])} of the "
                     f"{len(record['kept']) + len(record['dropped'])}"):
        st.caption(f"A probe trained without {record['holdout_images']} held-out normal training images; a transform "
                   f"is dropped when the probe's probability of it tells its images from those of a kept twin "
                   f"with an AUROC below {record['threshold']:.2f} on the held-out images.")
        st.dataframe([{"dropped": r["transform"], "kept twin": r["twin"], "AUROC against the twin": r["auroc"]}
                      for r in record["dropped"]], hide_index=True)


def retrain_panel(run: RunInfo, transforms: TransformSet, d: Diagnosis) -> None:
    """One click to train the same setting without the transforms chosen here, or with the auto rule."""
    st.subheader("Act on it: retrain without them")
    drop = st.multiselect("Transforms to drop", transforms.names, default=[d.names[t] for t in d.no_signal],
                          help=f"Filled with the transforms whose AUROC alone is below {CHANCE_AUROC:.2f}.")
    kept = [t for t in transforms.transforms if t.name not in drop]
    st.caption(HINDSIGHT)
    try:
        data = state.run_dataset(run)
    except DataError as exc:
        st.warning(f"Retraining needs the run's dataset, which is not available here: {exc}")
        return
    left, right = st.columns(2)
    if left.button(f"Retrain without these {len(drop)} ({len(kept)} transforms)", type="primary",
                   disabled=not drop or len(kept) < 2, use_container_width=True):
        spec = TransformSet(tuple(kept)).spec
        queue_training(rerun_request(run, spec, data_dir=state.data_dir(), out=str(state.results_dir())),
                       data, run.meta["normal_class"])
        st.rerun(scope="app")  # the sidebar shows the job at once
    if right.button("Retrain with the auto rule", use_container_width=True,
                    help="A probe trains first on 80% of the normal training images; twice the training time."):
        queue_training(rerun_request(run, AUTO, data_dir=state.data_dir(), out=str(state.results_dir())),
                       data, run.meta["normal_class"])
        st.rerun(scope="app")


run = state.require_run()
meta = run.meta
scores = state.run_scores(run)
st.title(f"Why · {meta['dataset']} · normal class {meta['class_label']}")
if not has_both_groups(scores.is_normal):
    st.info("This run's test set holds no anomalies, so there is nothing to tell apart: this page needs a run "
            "evaluated against other classes.")
    st.stop()
transforms = GeomConfig.from_dict(meta["config"]).transform_set()
d = diagnosis(str(run.path), state.run_mtime(run), meta["config"])
class_names = dict(enumerate(meta["class_names"]))
st.info(reading(d, meta["class_label"], class_names.get))
selection_panel(run)

st.subheader("Which transforms the normal class confuses")
st.markdown("Mean softmax of the normal test images: the transform applied, the one the classifier takes it for, "
            "and what relates the two (the class looks alike under it).")
st.dataframe([{"applied": d.names[p.applied], "taken for": d.names[p.taken_for], "p": round(p.probability, 3),
               "back": round(p.reverse, 3), "relation": p.label} for p in d.pairs], hide_index=True)
if d.by_relation:
    st.caption("Share of the confusion per relation (and if it were spread evenly): " + ", ".join(
        f"{r.label} {r.share:.0%} ({r.even:.0%})" for r in d.by_relation[:4]))
try:
    typical = state.run_dataset(run).x_test[scores.typical("dirichlet")]
except DataError:
    st.caption(f"The test images of {meta['dataset']} are not available here, so no examples are shown.")
else:
    show(pair_tiles(typical, d.pairs[:PAIRS_SHOWN], transforms, title="A typical normal test image under each pair"),
         width="content")

st.subheader("Which transforms carry the signal")
if d.transform_auroc is None:
    st.warning("This run's scores.npz has no per-image, per-transform probabilities (correct_prob), so the "
               "transforms cannot be ranked one by one. Runs trained now store them; retrain this one to see them.")
else:
    show(transform_auroc_bars(d.transform_auroc, d.names,
                              "Each transform alone: AUROC of its probability of the right transform"))
    show(class_transform_heatmap(d.class_transform_auroc, [class_names[c] for c in d.classes], transforms,
                                 "Against each anomalous class"))
show(class_auroc_bars(d.class_auroc, class_names, "The whole score per anomalous class"))
retrain_panel(run, transforms, d)
