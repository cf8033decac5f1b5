"""Compare two runs: the settings that differ, their metrics, AUROC per anomalous class side by side,
their ROC curves on one chart and the difference of their mean softmax matrices. Nothing is rescored:
both runs' scores.npz are read (core.compare)."""

from __future__ import annotations

import streamlit as st

from core.compare import aligned_class_auroc, config_diff, run_transforms, why_not_subtract
from core.detector import SCORE_METHODS
from core.metrics import has_both_groups
from core.reproduce import METRIC_TITLES
from core.runs import RunInfo
from explorer import state
from explorer.charts import add_report_run, show
from explorer.figures.compare import class_auroc_pair_bars, roc_pair
from explorer.figures.style import STATIC_CHART
from explorer.figures.transforms import softmax_difference_heatmap
from explorer.figures.why import SCORE_NAMES

NAMES = ("run A", "run B")


def suggested(runs: list[RunInfo], first: RunInfo | None) -> RunInfo | None:
    """A run to set beside ``first`` until one is chosen: the newest other run of its dataset and
    class, else of its dataset (``runs`` are newest first)."""
    if first is None:
        return None
    others = [r for r in runs if r.path != first.path]
    for same in (("dataset", "normal_class"), ("dataset",)):
        match = [r for r in others if all(r.meta.get(k) == first.meta.get(k) for k in same)]
        if match:
            return match[0]
    return None


def metric_rows(first: RunInfo, second: RunInfo) -> list[dict[str, str]]:
    """Both runs' metrics (percent) per score, and B minus A."""
    rows = []
    for score in SCORE_METHODS:
        for key, title in METRIC_TITLES.items():
            a, b = (r.metrics.get(score, {}).get(key) for r in (first, second))
            rows.append({"score": SCORE_NAMES[score], "metric": title,
                         "run A": "-" if a is None else f"{100 * a:.1f}",
                         "run B": "-" if b is None else f"{100 * b:.1f}",
                         "B − A": "-" if a is None or b is None else f"{100 * (b - a):+.1f}"})
    return rows


st.title("Compare two runs")
st.markdown("Two GEOM runs side by side: one class at two settings (all 72 transforms against a subset, two "
            "presets or seeds), or two normal classes of one dataset. Run A is the run chosen in the sidebar.")
geom = [r for r in state.available_runs().runs if state.is_geom(r)]
first, second = state.current_run(), state.compare_run()
for chosen in (first, second):  # a run opened by path or by a link, outside the listed folders
    if chosen is not None and state.is_geom(chosen) and chosen.path not in [r.path for r in geom]:
        geom.insert(0, chosen)
if len(geom) < 2:
    st.info("Comparing needs two GEOM runs. Train another in the sidebar (another seed, preset, normal class or "
            "set of transforms), or open one under *Open a saved run*.")
    st.stop()
names = state.run_names(geom)
paths = list(names)
second = second or suggested(geom, first)
left, right = st.columns(2)
pick_a = left.selectbox("Run A", paths, index=paths.index(str(first.path)) if first and state.is_geom(first) else None,
                        format_func=names.get, placeholder="choose a run")
pick_b = right.selectbox("Run B", paths, index=paths.index(str(second.path)) if second else None,
                         format_func=names.get, placeholder="choose a run")
# A choice is kept in the session and the page redrawn at once, as the sidebar's run picker does: the
# pickers are then drawn again with it as their default, so the next choice is not lost.
if pick_a and (first is None or pick_a != str(first.path)):
    state.select_run(pick_a)
    st.rerun()  # the sidebar follows
if pick_b and (second is None or pick_b != str(second.path)):
    state.select_compare(pick_b)
    st.rerun()
if not pick_a or not pick_b:
    st.info("Choose the two runs to compare.")
    st.stop()
if pick_a == pick_b:
    st.warning("Run A and run B are the same run: choose another run B.")
    st.stop()
by_path = {str(r.path): r for r in geom}
runs = [by_path[pick_a], by_path[pick_b]]
add_report_run(runs[1])
scores = [state.run_scores(r) for r in runs]
st.caption(f"[Link to this comparison]({state.compare_link(*runs)}) · run A `{runs[0].path}` · "
           f"run B `{runs[1].path}`")

st.subheader("Settings that differ")
diff = config_diff(*runs)
if diff:
    st.dataframe([{"setting": d.name, "run A": d.first, "run B": d.second} for d in diff], hide_index=True)
else:
    st.caption("None: the two runs share every setting.")
st.subheader("Metrics")
st.dataframe(metric_rows(*runs), hide_index=True)
if not all(has_both_groups(s.is_normal) for s in scores):
    st.info("One run's test data hold no anomalies, so it has no AUROC and no ROC curve to compare.")
    st.stop()

st.subheader("AUROC per anomalous class")
score = st.radio("Score", list(SCORE_METHODS), format_func=SCORE_NAMES.get, horizontal=True)
if runs[0].meta["dataset"] == runs[1].meta["dataset"]:
    rows = aligned_class_auroc(*scores, score)
    show(class_auroc_pair_bars(rows, dict(enumerate(runs[0].meta["class_names"])), NAMES, score))
    st.caption("Each bar: the run's AUROC of its normal class against that class alone. A class with one bar is "
               "the other run's normal class.")
else:
    st.caption(f"The runs' datasets differ ({runs[0].meta['dataset']}, {runs[1].meta['dataset']}), so their "
               "anomalous classes are not the same classes: no per-class comparison.")
show(roc_pair({(i, m): (s.is_normal, s.score(m)) for i, s in enumerate(scores) for m in SCORE_METHODS}, NAMES,
              "ROC of both runs, both scores (normal = positive)"))

st.subheader("Difference of the mean softmax matrices")
reason = why_not_subtract(*(run_transforms(r) for r in runs))
if reason:
    st.info(reason)
    st.stop()
transforms = run_transforms(runs[0])
columns = st.columns(2)
for column, normal, group in zip(columns, (True, False), ("normal", "anomalous"), strict=True):
    a, b = ((s.mean_softmax_normal if normal else s.mean_softmax_anomalous) for s in scores)
    show(softmax_difference_heatmap(a, b, transforms, f"{group.capitalize()} test images: A − B", 360), column,
         width="content", config=STATIC_CHART)
st.caption("Blue: run A gives that (applied, predicted) pair more probability than run B; red: less. On the normal "
           "images a blue diagonal means run A recognises the transforms better. Each run's own normal class "
           "decides which images are normal.")
