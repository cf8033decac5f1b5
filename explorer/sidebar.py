"""The sidebar every page shares: choose a dataset and normal class, train, or open a saved run."""

from __future__ import annotations

import streamlit as st

from core.config import PRESETS
from core.data import DATASETS, DataError, load_dataset
from core.experiment import RunRequest, run_one_class
from core.train import TrainProgress
from explorer import state

PRESET_HELP = "paper: the paper's WRN-10-4, 3 epochs (GPU). quick: a few minutes on a CPU. tiny: seconds, a rough model."


def _loads(name: str) -> bool:
    """Whether a dataset is on this machine (a run trained elsewhere may use one that is not).

    download=False: a missing set fails at once instead of attempting a download on every rerun.
    """
    try:
        load_dataset(name, state.data_dir(), download=False)
    except DataError:
        return False
    return True


def train_panel() -> None:
    """Dataset / class / preset / seed / device and a Train button with a live progress bar."""
    st.sidebar.subheader("Train a detector")
    # Start from the chosen run's setting, so the panel never contradicts the run shown above it.
    run = state.current_run()
    meta = run.meta if run is not None and run.meta.get("dataset") in DATASETS and _loads(run.meta["dataset"]) else {}
    name = st.sidebar.selectbox("Dataset", DATASETS, index=DATASETS.index(meta.get("dataset", "digits")),
                                help="digits works offline; the others need GEOM_DATA_DIR or a download")
    try:
        data = state.dataset(name)
    except DataError as exc:
        st.sidebar.error(str(exc))
        return
    labels = data.class_labels()
    run_cls = int(meta.get("normal_class", 0)) if name == meta.get("dataset") else 0
    cls = st.sidebar.selectbox("Normal class", range(len(labels)), format_func=lambda i: labels[i],
                               index=run_cls if run_cls < len(labels) else 0)
    presets = list(PRESETS)
    preset = st.sidebar.selectbox("Preset", presets, index=presets.index(meta.get("preset") if meta.get("preset") in PRESETS else "tiny"),
                                  help=PRESET_HELP)
    seed = st.sidebar.number_input("Seed", min_value=0, value=0, step=1)
    device = st.sidebar.selectbox("Device", ["auto", "cpu", "cuda"])
    if st.sidebar.button("Train", type="primary", use_container_width=True):
        bar = st.sidebar.progress(0.0, text="starting…")
        status = st.sidebar.empty()

        def on_train(p: TrainProgress) -> None:
            bar.progress(0.8 * p.fraction, text=f"step {p.step}/{p.total_steps} · loss {p.loss:.3f} · acc {p.accuracy:.2f}")

        def on_score(done: int, total: int) -> None:
            bar.progress(0.8 + 0.2 * done / total, text=f"scoring {done}/{total} images")

        try:
            run = run_one_class(RunRequest(name, cls, preset, int(seed), device, state.data_dir(), str(state.results_dir())),
                                progress=on_train, score_progress=on_score, stage=lambda msg: status.caption(msg))
        except (DataError, ValueError, RuntimeError) as exc:
            st.sidebar.error(f"Training failed: {exc}")
            return
        bar.progress(1.0, text=f"done · AUROC {100 * run.metrics['dirichlet']['auroc']:.1f}")
        state.select_run(run.path)


def run_picker() -> None:
    """Choose among saved runs (also runs made by `python -m core run`, e.g. on a GPU box)."""
    st.sidebar.subheader("Open a saved run")
    runs = state.available_runs()
    if not runs:
        st.sidebar.caption(f"No runs in {state.results_dir()} yet.")
        return
    current = state.current_run()
    paths = [str(r.path) for r in runs]
    index = paths.index(str(current.path)) if current and str(current.path) in paths else None
    choice = st.sidebar.selectbox("Run", paths, index=index, placeholder="choose a run",
                                  format_func=lambda p: runs[paths.index(p)].label)
    if choice and (current is None or choice != str(current.path)):
        state.select_run(choice)
        st.rerun()


def show_sidebar() -> None:
    run = state.current_run()
    if run is not None:
        auroc = 100 * run.metrics["dirichlet"]["auroc"]
        st.sidebar.success(f"**{run.meta['dataset']} · {run.meta['class_label']}**  \n"
                           f"{run.meta['preset']} · seed {run.meta['seed']} · AUROC {auroc:.1f}")
    train_panel()
    run_picker()
