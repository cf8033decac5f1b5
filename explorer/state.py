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

from core.data import DataError, ImageDataset, load_dataset
from core.detector import GeomDetector
from core.runs import RunInfo, find_runs, is_complete, read_run, results_root

RUN_KEY = "geom_run_path"
URL_PARAM = "run"  # ?run=<run folder> selects a run (see current_run)
URL_SEEN_KEY = "geom_run_url_seen"


def data_dir() -> str | None:
    """The data folder the app uses: $GEOM_DATA_DIR (core's default when unset)."""
    return os.environ.get("GEOM_DATA_DIR") or None


def results_dir() -> Path:
    return results_root()


@st.cache_resource(show_spinner="Loading dataset…", max_entries=4)
def dataset(name: str, download: bool = True) -> ImageDataset:
    """A dataset, downloaded on first use where the network allows (failures are not cached)."""
    return load_dataset(name, data_dir(), download=download)


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


def run_from_url(value: str) -> Path | None:
    """The run folder a ``?run=`` link names, if it is a complete run inside the results folder.

    Relative values are read against the results folder (short shareable links such as
    ``?run=geom/digits/3/tiny-seed0``). Anything outside it is ignored, so a link cannot make the
    server open arbitrary files.
    """
    try:
        root = results_dir().expanduser().resolve()
        path = (root / value).resolve()
        return path if path.is_relative_to(root) and is_complete(path) else None
    except (OSError, ValueError):  # e.g. a NUL byte or an over-long name in the link
        return None


def _apply_url_run() -> None:
    """Select the run named by ``?run=`` once per distinct link, so later sidebar choices stick."""
    value = st.query_params.get(URL_PARAM)
    if not value or st.session_state.get(URL_SEEN_KEY) == value:
        return
    st.session_state[URL_SEEN_KEY] = value
    path = run_from_url(value)
    if path is not None:
        select_run(path)


def current_run() -> RunInfo | None:
    """The run this browser session has chosen, or None (also when its folder has gone).

    A ``?run=<path>`` query parameter (absolute, or relative to the results folder) selects a run,
    which makes links to a run shareable and lets a headless browser open a page with a run chosen.
    """
    _apply_url_run()
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
    """The run's dataset from local files only: pages rerun often, and viewing a run trained
    elsewhere must not retry a (slow, failing) download on every rerun."""
    return dataset(run.meta["dataset"], download=False)


def run_dataset_or_stop(run: RunInfo) -> ImageDataset:
    """The run's dataset, or an error box and a stop when it is not on this machine."""
    try:
        return run_dataset(run)
    except DataError as exc:
        st.error(f"The run's dataset is unavailable: {exc}")
        st.stop()
