"""Results: GEOM against the paper's baselines on every class of a dataset, beside the paper's numbers.

Reads complete run folders (GEOM and baselines share one layout) from the results folder; nothing is
trained here. The tables are core.reproduce's, the same ones ``python -m core reproduce`` writes.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.baselines import ALL_METHODS, method_title
from core.config import PRESETS
from core.paper_tables import paper_value
from core.reproduce import (
    DATASET_TITLES,
    DEFAULT_TABLES_DIR,
    METRIC_TITLES,
    available_datasets,
    build_table,
    collect_runs,
    score_key,
    table_csv,
    table_markdown,
    table_notes,
    table_records,
)
from core.runs import DamagedRunError
from explorer import state
from explorer.charts import show
from explorer.figures.results import class_bar_chart, roc_overlay, short_class_label

REPO_ROOT = Path(__file__).resolve().parent.parent
HOW_TO = ("python -m core reproduce --dataset fashion_mnist --methods geom,raw-ocsvm --preset quick --runs 1\n"
          "python -m core baseline --method deep-svdd --dataset fashion_mnist --normal-class 0")

st.title("Results: GEOM vs the baselines")
st.caption("Every class of a dataset, one table per metric laid out like the paper's Tables 1-3: ours "
           "(mean ± SEM over runs) with the paper's published number beside it. **hindsight** OC-SVMs picked "
           "their parameters by test AUROC, as the paper did; **fair** ones used no test labels.")

root = state.results_dir()
found = available_datasets(root)


def committed_tables() -> None:
    """The tables measured for the repository (benchmarks/results), shown when no runs are here."""
    folder = REPO_ROOT / DEFAULT_TABLES_DIR
    tables = ("auroc", "aupr_in", "aupr_out")  # one metric's table; the per-dataset .md holds them all
    files = sorted(p for p in folder.glob("*.md") if p.stem.count("_") >= 1 and not p.stem.endswith(tables))
    if not files:
        return
    st.subheader("Measured tables in the repository")
    pick = st.selectbox("Table", files, format_func=lambda p: p.stem)
    st.markdown(pick.read_text())


if not found:
    st.info(f"No complete runs in `{root}` yet (runs on normal-only data have no AUROC to tabulate). Train some "
            f"from the command line, e.g.\n\n```\n{HOW_TO}\n```\n"
            "or point GEOM_RESULTS_DIR at a results folder.")
    committed_tables()
    st.stop()

left, mid, right = st.columns([2, 1, 2])
datasets = sorted(found)
dataset = left.selectbox("Dataset", datasets, format_func=lambda d: DATASET_TITLES.get(d, d),
                         index=datasets.index("fashion_mnist") if "fashion_mnist" in datasets else 0)
presets = [p for p in PRESETS if p in found[dataset]] + sorted(found[dataset] - set(PRESETS))
preset = mid.selectbox("Preset", presets)
metric = right.radio("Metric", list(METRIC_TITLES), format_func=METRIC_TITLES.get, horizontal=True)

runs = collect_runs(root, dataset, list(ALL_METHODS), preset)
runs = {m: by_class for m, by_class in runs.items() if by_class}
any_run = next(r for by_class in runs.values() for rs in by_class.values() for r in rs)
class_names = list(any_run.meta["class_names"])
methods = st.multiselect("Methods", list(runs), default=list(runs), format_func=method_title)
if not methods:
    st.info("Pick at least one method.")
    st.stop()
table = build_table({m: runs[m] for m in methods}, dataset, metric, class_names, preset)

st.subheader(f"{DATASET_TITLES.get(dataset, dataset)} · {METRIC_TITLES[metric]} (%)")
st.dataframe(table_records(table), hide_index=True, width="stretch", height=36 * (len(table.rows) + 1) + 3)
st.caption("  \n".join(n.removeprefix("- ") for n in table_notes(table)))
a, b = st.columns(2)
stem = f"{dataset}_{preset}_{metric}"
a.download_button("Download CSV", table_csv(table), f"{stem}.csv", "text/csv")
b.download_button("Download Markdown", table_markdown(table), f"{stem}.md", "text/markdown")

show(class_bar_chart(table), width="stretch")

st.subheader("ROC curves for one class")
with_runs = [c for c in range(len(class_names)) if any(c in runs[m] for m in methods)]
cls = st.selectbox("Normal class", with_runs, format_func=lambda c: short_class_label(table, c))
curves, paper, seeds = {}, {}, []
for m in methods:
    if cls not in runs[m]:
        continue
    run = runs[m][cls][0]  # the first seed: one curve per method keeps the chart readable
    try:
        s = state.scores(str(run.path), state.run_mtime(run))
    except DamagedRunError as exc:
        st.warning(f"No {method_title(m)} curve: {exc}")
        continue
    curves[m] = (s.is_normal, s.score(score_key(run)))
    ref = paper_value(dataset, cls, "auroc", run.meta.get("paper_method", "geom"))
    paper[m] = None if ref is None else ref.mean
    seeds.append(f"{method_title(m)} seed {run.meta['seed']}")
show(roc_overlay(curves, f"ROC, normal class {short_class_label(table, cls)} vs the rest", paper), width="stretch")
st.caption("One run per method (" + ", ".join(seeds) + "). Normal is the positive class; the legend gives "
           "each AUROC, with the paper's where it has one.")
missing = [method_title(m) for m in methods if cls not in runs[m]]
if missing:
    st.caption("No run of this class for: " + ", ".join(missing))
