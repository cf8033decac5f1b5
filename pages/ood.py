"""Out-of-distribution detection with class labels (the paper's Section 5.5): a run of
``python -m core ood``, its three scores' ROC curves, its metrics beside the paper's, and the images at
either end of the GEOM score. Nothing is trained or rescored here: the run folder's files are read."""

from __future__ import annotations

import streamlit as st

from core.ood.run import metric_rows, read_ood_run
from core.paper_tables import paper_ood
from core.runs import DamagedRunError
from explorer import state
from explorer.charts import add_report_run, show
from explorer.figures.ood import extreme_gallery, ood_roc
from explorer.figures.style import STATIC_CHART

HOW_TO = ("python -m core ood --in cifar10 --out cifar100 --preset quick\n"
          "python -m core ood --in digits --out folder:/path/to/other/images --preset tiny   # a minute, no data")

st.title("Out-of-distribution detection")
st.markdown("The paper's Section 5.5: one Wide ResNet with two heads, one over a labelled dataset's categories and "
            "one over the 72 transforms, trained on both at once. **GEOM** scores an image by the transform head "
            "alone (the simplified score: the mean probability of the right transform); **max softmax** (Hendrycks "
            "& Gimpel) and **ODIN** (Liang et al.) score it by the class head of the same network. ODIN's temperature "
            "and perturbation were tuned on held-out images; all three are evaluated on the others.")

chosen = state.current_run()
if chosen is not None and not state.is_ood(chosen):
    try:
        read_ood_run(chosen.path)
    except ValueError as exc:
        st.info(f"The run chosen in the sidebar is not shown here: {exc}.")
runs = [r for r in state.available_runs().runs if state.is_ood(r)]
if chosen is not None and state.is_ood(chosen) and chosen.path not in [r.path for r in runs]:
    runs.insert(0, chosen)  # opened by path or by a link, outside the listed folders
if not runs:
    st.info(f"No out-of-distribution run in {state.results_dir()} yet. Make one on the command line:")
    st.code(HOW_TO, language="bash")
    st.stop()

names = state.run_names(runs)
paths = list(names)
current = str(chosen.path) if chosen is not None and state.is_ood(chosen) else paths[0]
pick = st.selectbox("Out-of-distribution run", paths, index=paths.index(current), format_func=names.get)
if pick != current:  # kept in the session, as the sidebar's picker keeps a choice
    state.select_run(pick)
    st.rerun()
run = next(r for r in runs if str(r.path) == pick)
add_report_run(run)
try:
    scores = state.ood_scores(str(run.path), state.run_mtime(run))
except DamagedRunError as exc:
    st.error(f"The run's scores cannot be read: {exc}")
    st.stop()

meta = run.meta
odin = meta["odin"]
st.caption(f"In-distribution **{meta['dataset']}** ({len(meta['class_names'])} classes), OOD "
           f"**{meta['out_dataset']}**; preset {meta['preset']}, seed {meta['seed']}. ODIN's T = "
           f"{odin['temperature']:g} and eps = {odin['epsilon']:.4f} were tuned on {meta['n_tune_in']} + "
           f"{meta['n_tune_out']} held-out images (lowest FPR at 95% TPR); all three scores are evaluated on the other "
           f"{meta['n_eval_in']} in-distribution and {meta['n_eval_out']} OOD images. The class head classifies "
           f"{100 * meta['class_accuracy']:.1f}% of those in-distribution images right.")
if meta.get("out_conversion"):
    st.caption(f"{meta['out_conversion'][0].upper()}{meta['out_conversion'][1:]}.")
if meta.get("out_skipped"):
    with st.expander(f"{len(meta['out_skipped'])} OOD file(s) could not be read and were skipped"):
        for path, why in meta["out_skipped"]:
            st.caption(f"`{path}`: {why}")

references = paper_ood(meta["dataset"])
left, right = st.columns([3, 2])
show(ood_roc(scores, {r.method: r.values["auroc"] for r in references}), left)
if references:
    right.caption(f"The paper's rows test {references[0].in_dataset} against {references[0].out_dataset} "
                  "(tiny-ImageNet resized, from ODIN's release), not this run's OOD set: they set ours in context, "
                  "they are no target. AUPR-in takes the in-distribution images as positive, AUPR-out the OOD ones.")
else:
    right.caption("The paper reports Section 5.5 for CIFAR-10 only. AUPR-in takes the in-distribution images as "
                  "positive, AUPR-out the OOD ones.")
# full width: the data column names both sets, and a narrow column hid the figures behind a scroll bar
st.subheader("Metrics (%)")
st.dataframe(metric_rows(run), hide_index=True)

st.subheader("Either end of the GEOM score")
columns = st.columns(2)
for column, most_in in zip(columns, (True, False), strict=True):
    show(extreme_gallery(scores, most_in, meta["class_names"]), column, config=STATIC_CHART)
st.caption("Each tile: in-distribution (with its class) or OOD, and its GEOM score, the mean probability the "
           "transform head gives the right transform over the 72.")
