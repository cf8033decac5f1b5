"""Per-session choices and process-wide caches shared by every page.

Which run a browser session looks at lives in ``st.session_state`` (so two users never see each
other's choice); models, datasets and score arrays are cached by the run's path (so switching
pages or coming back never retrains or rescores, and two sessions share the same loaded model).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.data import ImageDataset, load_dataset
from core.detector import GeomDetector
from core.runs import RunInfo, find_runs, read_run, results_root

RUN_KEY = "geom_run_path"


def data_dir() -> str | None:
    """The data folder the app uses: $GEOM_DATA_DIR (core's default when unset)."""
    return os.environ.get("GEOM_DATA_DIR") or None


def results_dir() -> Path:
    return results_root()


@st.cache_resource(show_spinner="Loading dataset…", max_entries=4)
def dataset(name: str) -> ImageDataset:
    return load_dataset(name, data_dir())


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def detector(run_path: str, mtime: float) -> GeomDetector:
    """The run's detector; ``mtime`` makes a retrained run in the same folder load afresh."""
    return GeomDetector.load(Path(run_path) / "model.pt")


@st.cache_data(show_spinner=False, max_entries=16)
def scores(run_path: str, mtime: float) -> dict[str, np.ndarray]:
    return read_run(run_path).scores()


def run_mtime(run: RunInfo) -> float:
    return (run.path / "run.json").stat().st_mtime


def available_runs() -> list[RunInfo]:
    return find_runs(results_dir(), method="geom")


def select_run(path: Path | str) -> None:
    st.session_state[RUN_KEY] = str(path)


def current_run() -> RunInfo | None:
    """The run this browser session has chosen, or None (also when its folder has gone)."""
    path = st.session_state.get(RUN_KEY)
    if not path:
        return None
    try:
        return read_run(path)
    except (FileNotFoundError, ValueError):
        st.session_state.pop(RUN_KEY, None)
        return None


def require_run() -> RunInfo:
    """The chosen run, or a hint on what to do and a stop of the page."""
    run = current_run()
    if run is None:
        st.info("No model chosen yet. Train one or open a saved run in the sidebar (or on the Home page).")
        st.stop()
    return run


def run_detector(run: RunInfo) -> GeomDetector:
    return detector(str(run.path), run_mtime(run))


def run_scores(run: RunInfo) -> dict[str, np.ndarray]:
    return scores(str(run.path), run_mtime(run))


def run_dataset(run: RunInfo) -> ImageDataset:
    return dataset(run.meta["dataset"])
