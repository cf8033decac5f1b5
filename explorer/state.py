"""Per-session choices and process-wide caches shared by every page.

Which run a browser session looks at lives in ``st.session_state`` (so two users never see each
other's choice); models, datasets and score arrays are cached by the run's path (so switching
pages or coming back never retrains or rescores, and two sessions share the same loaded model).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import streamlit as st

from core.data import DataError, ImageDataset, load_dataset
from core.detector import GeomDetector
from core.ood.run import OodScores
from core.runs import (
    OOD_METHOD,
    CheckpointError,
    DamagedRunError,
    RunInfo,
    RunScan,
    one_class_refusal,
    read_run,
    recover_interrupted_writes,
    resolve_run_folder,
    results_root,
    run_roots,
    scan_runs,
)
from core.scores import RunScores
from core.threshold import NO_THRESHOLD, SavedThreshold, saved_threshold

RUN_KEY = "geom_run_path"
COMPARE_KEY = "geom_compare_path"  # the run the Compare page sets beside the chosen one
LECTURE_KEY = "geom_lecture_mode"  # the sidebar's Lecture mode toggle (explorer.charts applies it)
URL_PARAM = "run"  # ?run=<run folder> selects a run (see current_run)
COMPARE_PARAM = "compare"  # ?compare=<run folder> sets the Compare page's second run (see compare_run)
IMAGE_PARAM = "image"  # ?image=<dataset test index> opens one image on the Transforms and Attributions pages
URL_SEEN_KEY = "geom_run_urls_seen"  # query parameter -> the last link value applied
PROBLEM_KEY = "geom_run_problem"  # why a run named by a link or chosen earlier could not be opened
SESSION_ID_KEY = "geom_session_id"
RESULTS_KEPT = 64  # per page, in result_store
T = TypeVar("T")


def data_dir() -> str | None:
    """The data folder the app uses: $GEOM_DATA_DIR (core's default when unset)."""
    return os.environ.get("GEOM_DATA_DIR") or None


def results_dir() -> Path:
    return results_root()


def roots() -> list[Path]:
    """The folders runs may be opened from (core.runs.run_roots): the results folder and $GEOM_RUN_ROOTS."""
    return run_roots(results_dir())


def session_id() -> str:
    """This browser session's id, so a shared training job knows who asked for it."""
    return st.session_state.setdefault(SESSION_ID_KEY, uuid.uuid4().hex)


@st.cache_resource(show_spinner=False)
def recover_leftovers(folders: tuple[str, ...]) -> list[str]:
    """Once per server process and set of folders: finish or undo run writes a crash interrupted
    (core.runs.recover_interrupted_writes logs each action)."""
    return [action for folder in folders for action in recover_interrupted_writes(folder)]


@st.cache_resource(show_spinner="Loading dataset…", max_entries=4)
def dataset(name: str, download: bool = True) -> ImageDataset:
    """A dataset, downloaded on first use where the network allows (failures are not cached)."""
    return load_dataset(name, data_dir(), download=download)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def detector(run_path: str, mtime: float) -> GeomDetector:
    """The run's detector; ``mtime`` makes a retrained run in the same folder load afresh."""
    return GeomDetector.load(Path(run_path) / "model.pt")


@st.cache_data(show_spinner=False, max_entries=16)
def scores(run_path: str, mtime: float) -> RunScores:
    """The run's scores; ``mtime`` makes a retrained run in the same folder read afresh."""
    return RunScores.of(read_run(run_path))


@st.cache_data(show_spinner=False, max_entries=8)
def ood_scores(run_path: str, mtime: float) -> OodScores:
    """An out-of-distribution run's scores; ``mtime`` makes a rerun in the same folder read afresh."""
    return OodScores.of(read_run(run_path))


class ResultStore:
    """Results that cost training or many forward passes, shared by every session of the server.

    Keyed by whatever identifies the computation, so the same experiment never runs twice; past
    ``limit`` entries the oldest goes, so a long-lived server's memory stays bounded however many
    experiments its visitors try.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[Hashable, Any] = {}
        self._lock = threading.Lock()  # sessions run in threads of one process

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> Any:
        """The stored result, or None (never stored, or dropped since)."""
        return self._items.get(key)

    def put(self, key: Hashable, value: T) -> T:
        """Keep ``value`` under ``key``, dropping the oldest results past the limit; returns ``value``."""
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.limit:
                self._items.pop(next(iter(self._items)))
        return value


@st.cache_resource
def result_store(page: str) -> ResultStore:
    """The server-wide store of one page's results, made on first use."""
    return ResultStore(RESULTS_KEPT)


def run_mtime(run: RunInfo) -> float:
    return (run.path / "run.json").stat().st_mtime


def available_runs() -> RunScan:
    """Every run folder under the folders runs may be opened from, and those that do not read."""
    scans = [scan_runs(root) for root in roots()]
    runs = sorted((r for scan in scans for r in scan.runs), key=lambda r: r.meta.get("created", ""), reverse=True)
    return RunScan(runs, [d for scan in scans for d in scan.damaged])


def is_geom(run: RunInfo) -> bool:
    return run.meta.get("method", "geom") == "geom"


def is_ood(run: RunInfo) -> bool:
    """A run of ``python -m core ood`` (Section 5.5), which only the Out-of-distribution page shows."""
    return run.meta.get("method") == OOD_METHOD


def run_kind(run: RunInfo) -> str:
    """What a run is, for the words beside its name: empty for GEOM's one-class runs."""
    if is_geom(run):
        return ""
    return "out-of-distribution run" if is_ood(run) else f"{run.meta.get('method')} baseline"


def select_run(path: Path | str) -> None:
    st.session_state[RUN_KEY] = str(Path(path).resolve())


def select_compare(path: Path | str) -> None:
    """Set the Compare page's second run."""
    st.session_state[COMPARE_KEY] = str(Path(path).resolve())


def lecture_mode() -> bool:
    """Whether this session draws its figures for a lecture hall (the sidebar's toggle)."""
    return bool(st.session_state.get(LECTURE_KEY, False))


def run_names(runs: list[RunInfo]) -> dict[str, str]:
    """Run folder -> a name for a selectbox. A selectbox tells options apart by their text, so runs alike
    but for their folder are named with its name (a run with overrides), or its path (another root)."""
    labels = [r.label for r in runs]
    named = [f"{r.label} · {r.path.name}" for r in runs]

    def name(run: RunInfo, with_folder: str) -> str:
        if labels.count(run.label) == 1:
            return run.label
        return with_folder if named.count(with_folder) == 1 else f"{run.label} · {run.path}"

    return {str(r.path): name(r, n) for r, n in zip(runs, named, strict=True)}


def open_folder(value: str) -> str | None:
    """Select the run folder ``value`` (a typed path); None, or why it cannot be opened.

    Only folders inside roots() open (core.runs.resolve_run_folder), as for links, so a typed path
    cannot make the server read arbitrary folders.
    """
    try:
        select_run(resolve_run_folder(value, roots()))
    except ValueError as exc:
        return str(exc)
    return None


def _apply_links() -> None:
    """Open the runs named by ``?run=`` and ``?compare=`` once per distinct link, so later choices in the
    sidebar or on the Compare page stick; a link that cannot be opened is said in the sidebar."""
    seen = st.session_state.setdefault(URL_SEEN_KEY, {})
    for param, key, what in ((URL_PARAM, RUN_KEY, "run"), (COMPARE_PARAM, COMPARE_KEY, "run to compare with")):
        value = st.query_params.get(param)
        if not value or seen.get(param) == value:
            continue
        seen[param] = value
        try:
            st.session_state[key] = str(resolve_run_folder(value, roots()))
        except ValueError as exc:
            st.session_state[PROBLEM_KEY] = f"The link's {what} cannot be opened: {exc}"


def _session_run(key: str) -> RunInfo | None:
    """The run folder kept under session key ``key``, or None (also when its folder has gone)."""
    path = st.session_state.get(key)
    if not path:
        return None
    try:
        return read_run(path)
    except (OSError, ValueError) as exc:  # deleted or damaged since it was chosen
        st.session_state.pop(key, None)
        st.session_state[PROBLEM_KEY] = f"The chosen run cannot be opened any more: {exc}"
        return None


def current_run() -> RunInfo | None:
    """The run this browser session has chosen, or None (also when its folder has gone).

    A ``?run=<path>`` query parameter (absolute, or relative to the results folder) selects a run,
    which makes links to a run shareable and lets a headless browser open a page with a run chosen.
    """
    _apply_links()
    return _session_run(RUN_KEY)


def compare_run() -> RunInfo | None:
    """The run the Compare page sets beside the chosen one (``?compare=<path>`` sets it too), or None."""
    _apply_links()
    return _session_run(COMPARE_KEY)


def require_run() -> RunInfo:
    """The chosen GEOM run, or a hint on what to do and a stop of the page (the sidebar stays)."""
    run = current_run()
    if run is None:
        st.info("No model chosen yet. Train one or open a saved run in the sidebar (or on the Home page).")
        st.stop()
    refusal = one_class_refusal(run, "be shown on this page")
    if refusal:
        st.warning(f"{refusal}.")
        st.stop()
    if not is_geom(run):
        st.warning(f"The chosen run is a **{run.meta.get('method')}** baseline, and this page shows GEOM "
                   "detectors. Open a GEOM run in the sidebar, or compare the baseline with GEOM on the "
                   "**Results vs baselines** page.")
        st.stop()
    return run


def run_detector(run: RunInfo) -> GeomDetector:
    """The run's detector, or the loader's message in an error box and a stop (a damaged model.pt)."""
    try:
        return detector(str(run.path), run_mtime(run))
    except CheckpointError as exc:
        st.error(f"The run's model cannot be loaded: {exc}")
        st.stop()


def run_scores(run: RunInfo) -> RunScores:
    """The run's scores, or the loader's message in an error box and a stop (a damaged scores.npz)."""
    try:
        return scores(str(run.path), run_mtime(run))
    except DamagedRunError as exc:
        st.error(f"The run's scores cannot be read: {exc}")
        st.stop()


def run_threshold(run: RunInfo) -> SavedThreshold | None:
    """The threshold the run saved, or None (runs made before thresholds, baselines); a damaged record
    is said in a warning box and read as none, so the rest of the page still shows."""
    try:
        return saved_threshold(run.meta)
    except DamagedRunError as exc:
        st.warning(f"The run's saved threshold cannot be used: {exc}")
        return None


def score_threshold(run: RunInfo, method: str, where: Any = st) -> SavedThreshold | None:
    """The run's saved threshold if it applies to the ``method`` score shown; otherwise None, with a
    caption in ``where`` (a column, by default the page) saying why there is no verdict to show."""
    saved = run_threshold(run)
    if saved is None:
        where.caption(f"{NO_THRESHOLD.capitalize()}.")
        return None
    if method != GeomDetector.score_key:
        where.caption(f"The run's saved threshold is on the {GeomDetector.score_key.capitalize()} score: choose "
                      "that score to see its verdict.")
        return None
    return saved


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


def image_link(run: RunInfo, page: str, index: int) -> str:
    """A relative link to ``page`` (its URL path, e.g. "transforms") opened on dataset test image
    ``index`` of ``run``: every page numbers an image by its index in the dataset's test set, so a
    number seen on one page finds the same image on another."""
    return f"{page}?{urlencode({URL_PARAM: str(run.path), IMAGE_PARAM: index})}"


def compare_link(run: RunInfo, other: RunInfo) -> str:
    """A relative link to the Compare page opened on ``run`` beside ``other``."""
    return f"compare?{urlencode({URL_PARAM: str(run.path), COMPARE_PARAM: str(other.path)})}"


def image_links(run: RunInfo, index: int) -> str:
    """Markdown links from one image to its Transforms and Attributions views, for under a tile."""
    return (f"[transforms]({image_link(run, 'transforms', index)}) · "
            f"[attributions]({image_link(run, 'attribution', index)})")


def linked_image(scores: RunScores) -> int | None:
    """The dataset test index named by ``?image=``, or None when there is none or it is unusable.

    An index the run did not score is refused with a message rather than silently replaced: the
    user followed a link to one image and should not be shown another without being told.
    """
    value = st.query_params.get(IMAGE_PARAM)
    if value is None:
        return None
    index = int(value) if value.strip().isdigit() else None
    if index is None or scores.position(index) is None:
        st.error(f"The link names test image {value!r}, which this run did not score; it scored "
                 f"{len(scores.test_index)} test images, numbered {int(scores.test_index.min())} to "
                 f"{int(scores.test_index.max())} in the dataset's test set. Showing another image instead.")
        return None
    return index
