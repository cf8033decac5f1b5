"""Run folders: one directory per trained detector, readable by the CLI, the explorer and notebooks.

Layout (anomalib-style, so a run trained on a GPU box opens on a laptop unchanged)::

    <root>/<method>/<dataset>/<class index>/<preset>-seed<seed>/
        run.json      what was run: dataset, class, preset, config, timings, versions
        metrics.json  AUROC / AUPR-in / AUPR-out (fractions) for each score method
        scores.npz    test labels and scores, per-transform correctness, mean softmax matrices
        model.pt      the checkpoint (GeomDetector.save)
        history.json  GEOM's training curve: step, loss, accuracy, lr, elapsed_s at the progress cadence
                      (absent in runs written before it existed, and for baselines)

A run is built in a hidden temporary folder and renamed into place only when complete, so an
interrupted run never leaves a half-written folder that looks finished; recover_interrupted_writes
tidies what a crash between the two renames of a rewrite leaves behind. A run made on another
machine travels as its files' bytes (run_files) and lands the same way (write_run_files).

A folder is data, not trust: read_run checks what the readers rely on and says what is wrong, and
scan_runs lists every run folder that does not read, with the reason, instead of failing on it.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.transforms import spec_tag

if TYPE_CHECKING:
    from core.data import ImageDataset

RESULTS_ENV = "GEOM_RESULTS_DIR"
RUN_ROOTS_ENV = "GEOM_RUN_ROOTS"  # more folders runs may be opened from, os.pathsep-separated
RUN_FILE, METRICS_FILE, SCORES_FILE, MODEL_FILE = "run.json", "metrics.json", "scores.npz", "model.pt"
HISTORY_FILE = "history.json"
HISTORY_KEYS = ("step", "loss", "accuracy", "lr", "elapsed_s")  # every history.json row holds these numbers
REQUIRED_META = ("dataset", "normal_class", "class_label", "preset", "seed")  # what every reader of a run needs
# The <method> level of Section 5.5's out-of-distribution runs (core.ood): a two-headed classifier of a
# labelled dataset, not a one-class detector, so the one-class readers refuse them (one_class_refusal).
OOD_METHOD = "ood"
# write_run's hidden siblings: .<name>.tmp-<hex> (being written) and .<name>.old-<hex> (being replaced).
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[0-9a-f]{8}$")

log = logging.getLogger(__name__)


class DamagedRunError(ValueError):
    """A run folder whose files exist but cannot be used, with what is wrong."""


def results_root(out: str | os.PathLike | None = None) -> Path:
    """Explicit folder > $GEOM_RESULTS_DIR > ./results."""
    return Path(out or os.environ.get(RESULTS_ENV) or "results").expanduser()


def safe_dataset_dirname(dataset: str) -> str:
    """``folder:/some/path`` becomes ``folder-path`` so it can name a directory."""
    if dataset.startswith("folder:"):
        return "folder-" + Path(dataset[len("folder:"):]).expanduser().resolve().name
    return dataset


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save into a temporary sibling, then one rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class CheckpointError(Exception):
    """A checkpoint that cannot be used here, with the reason and what to do instead."""


def read_checkpoint_dict(path: str | os.PathLike, fmt: str, kind: str, hint: str = "") -> dict[str, Any]:
    """The dict saved at ``path`` if it is a readable checkpoint of format ``fmt``.

    ``weights_only=True``: opening a file never runs code from it. ``kind`` names the checkpoint in
    messages ("GEOM", "baseline"); ``hint`` is appended to the unreadable-file message.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise CheckpointError(f"{path} is not a readable {kind} checkpoint "
                              f"({type(exc).__name__}: {_load_failure(exc)}){hint}") from exc
    found = state.get("format") if isinstance(state, dict) else None
    if isinstance(found, str) and found != fmt and found.split("/")[0] == fmt.split("/")[0]:
        raise CheckpointError(f"{path} is a {kind} checkpoint of another version (format {found!r}; this version "
                              f"reads {fmt!r}): open it with the version that wrote it, or retrain")
    if found != fmt:
        raise CheckpointError(f"{path} is not a {kind} checkpoint (expected format {fmt!r})")
    return state


def _load_failure(exc: BaseException, limit: int = 160) -> str:
    """torch.load's reason in one short line: its weights-only refusals run to paragraphs of advice
    (some of it to load unsafely) with the reason after "WeightsUnpickler error:"."""
    text = str(exc)
    found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    line = found.group(1) if found else next((t for t in text.splitlines() if t.strip()), type(exc).__name__)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def run_dir(root: Path, method: str, dataset: str, normal_class: int, name: str) -> Path:
    return root / method / safe_dataset_dirname(dataset) / str(normal_class) / name


def run_folder_name(preset: str, seed: int, overrides: tuple[tuple[str, Any], ...] = ()) -> str:
    """A run folder's own name, for every method: ``<preset>[-<field><value>...]-seed<seed>``.

    Overrides of the preset's config go into the name, so a run with ``steps=100`` never reuses
    (or overwrites) the plain preset's folder; a list of transforms goes in short (core.transforms.spec_tag).
    """
    tag = "".join(f"-{k}{spec_tag(v) if k == 'transforms' else v}" for k, v in overrides)
    return f"{preset}{tag}-seed{seed}"


def run_seed_pattern(preset: str) -> re.Pattern[str]:
    """Folder names of plain preset runs (``quick-seed3``), not runs with overrides (``quick-steps100-seed0``)."""
    return re.compile(rf"^{re.escape(preset)}-seed(\d+)$")


@dataclass(frozen=True)
class RunInfo:
    """A finished run as read back from disk (scores and model are loaded on demand)."""

    path: Path
    meta: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def label(self) -> str:
        m = self.meta
        return f"{m.get('method', 'geom')} · {m['dataset']} · {m['class_label']} · {m['preset']} · seed {m['seed']}"

    def scores(self) -> dict[str, np.ndarray]:
        """The arrays of scores.npz; DamagedRunError (not a zip traceback) when the file is damaged."""
        try:
            with np.load(self.path / SCORES_FILE, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DamagedRunError(f"{self.path / SCORES_FILE} is damaged ({type(exc).__name__}: {exc}); "
                                  "train the run again") from exc

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def history(self) -> list[dict[str, float]] | None:
        """The training history rows, or None for a run without one (older runs, baselines).

        A history.json that is there but unreadable is a DamagedRunError, like a damaged scores.npz.
        """
        path = self.path / HISTORY_FILE
        if not path.is_file():
            return None
        try:
            rows = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DamagedRunError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc
        if not isinstance(rows, list) or not all(_is_history_row(r) for r in rows):
            raise DamagedRunError(f"{path} is not a list of rows with {', '.join(HISTORY_KEYS)}")
        return rows


def _is_history_row(row: object) -> bool:
    return isinstance(row, dict) and all(isinstance(row.get(k), (int, float)) for k in HISTORY_KEYS)


def one_class_refusal(run: RunInfo, action: str = "open it") -> str | None:
    """Why a one-class reader (a detector loader, a one-class page) cannot ``action`` with ``run``, or None
    when it can: an out-of-distribution run holds a two-headed classifier, no one-class detector."""
    if run.meta.get("method") != OOD_METHOD:
        return None
    return (f"{run.path} is an out-of-distribution run (python -m core ood, the paper's Section 5.5): its network "
            "classifies a labelled dataset and scores images against all of it, so it is no one-class detector "
            f"and cannot {action}; open it on the explorer's Out-of-distribution page")


def run_meta(method: str, data: ImageDataset, normal_class: int, preset: str, seed: int, config: dict[str, Any],
             device: torch.device | str, n_train: int, n_test: int, train_s: float, score_s: float,
             cpu_s: float) -> dict[str, Any]:
    """The run.json fields every one-class method writes, so the CLI, the tables and the explorer read all alike."""
    return {
        "method": method,
        "dataset": data.name,
        "normal_class": normal_class,
        "class_name": data.class_names[normal_class],
        "class_label": data.class_label(normal_class),
        "class_names": list(data.class_names),
        "preset": preset,
        "seed": seed,
        "config": config,
        "n_train": int(n_train),
        "n_test": int(n_test),
        **cost_meta(device, train_s, score_s, cpu_s),
    }


def cost_meta(device: torch.device | str, train_s: float, score_s: float, cpu_s: float) -> dict[str, Any]:
    """Where and how long a run ran, and with what: the run.json fields of every kind of run."""
    return {
        "device": str(device),
        "train_seconds": round(train_s, 2),
        "score_seconds": round(score_s, 2),
        "seconds": round(train_s + score_s, 2),
        # CPU time of all this process's threads: on a shared machine, wall seconds measure the
        # neighbours too; cpu_seconds / threads is what the run costs on an idle one.
        "cpu_seconds": round(cpu_s, 2),
        "threads": torch.get_num_threads(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def write_run(path: Path, meta: dict[str, Any], metrics: dict[str, Any], scores: dict[str, np.ndarray],
              write_model: Callable[[Path], None] | None = None,
              history: Sequence[dict[str, float]] | None = None) -> RunInfo:
    """Write every file into a temporary sibling folder, then swap it into ``path`` in one rename.

    ``history`` (rows of history.json) goes in the same rename, so a run never shows a curve
    from a different training than its model.
    """
    def fill(tmp: Path) -> None:
        (tmp / RUN_FILE).write_text(json.dumps(meta, indent=2, default=_jsonable))
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        np.savez(tmp / SCORES_FILE, **scores)
        if history is not None:
            (tmp / HISTORY_FILE).write_text(json.dumps(list(history), indent=1))
        if write_model is not None:
            write_model(tmp / MODEL_FILE)

    return _swap_in(path, fill)


def run_files(path: str | os.PathLike) -> dict[str, bytes]:
    """A run folder's files by name, as bytes: what a worker on another machine sends back
    (:mod:`core.ray_backend`), to be laid down with :func:`write_run_files`."""
    return {f.name: f.read_bytes() for f in sorted(Path(path).iterdir()) if f.is_file()}


def write_run_files(path: Path, files: dict[str, bytes]) -> RunInfo:
    """Lay down a run folder from :func:`run_files`' bytes, atomically as :func:`write_run` does.

    The names come from another process, so only plain file names are taken; a set without
    run.json, metrics.json and scores.npz is refused before anything replaces ``path``.
    """
    bad = [name for name in files if Path(name).name != name or name.startswith(".")]
    if bad:
        raise DamagedRunError(f"refusing run files with unsafe names: {', '.join(map(repr, bad))}")

    def fill(tmp: Path) -> None:
        for name, data in files.items():
            (tmp / name).write_bytes(data)

    return _swap_in(path, fill)


def _swap_in(path: Path, fill: Callable[[Path], None]) -> RunInfo:
    """``fill`` a hidden temporary sibling of ``path``; once it holds a complete run, rename it into
    place (moving an older run aside first, then deleting it). Any failure leaves ``path`` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        fill(tmp)
        missing = missing_files(tmp)
        if missing:
            raise DamagedRunError(f"the run for {path} is incomplete (missing {', '.join(missing)})")
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return read_run(path)


def missing_files(path: Path) -> list[str]:
    """The files every run folder needs that ``path`` lacks."""
    return [f for f in (RUN_FILE, METRICS_FILE, SCORES_FILE) if not (path / f).is_file()]


def is_complete(path: Path) -> bool:
    return not missing_files(path)


def read_run(path: str | os.PathLike) -> RunInfo:
    """Read a run folder, saying clearly when it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no run folder at {path}")
    missing = missing_files(path)
    if missing:
        raise FileNotFoundError(f"{path} is not a complete run folder (missing {', '.join(missing)})")
    parsed = []
    for name in (RUN_FILE, METRICS_FILE):
        try:
            value = json.loads((path / name).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DamagedRunError(f"{path} has a damaged {name}: {exc}") from exc
        if not isinstance(value, dict):
            raise DamagedRunError(f"{path / name} holds a {type(value).__name__}, not a JSON object")
        parsed.append(value)
    meta, metrics = parsed
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise DamagedRunError(f"{path / RUN_FILE} lacks {', '.join(missing)}")
    return RunInfo(path, meta, metrics)


@dataclass(frozen=True)
class RunScan:
    """What a results folder holds: the runs that read, and the folders that do not, with why."""

    runs: list[RunInfo] = field(default_factory=list)
    damaged: list[tuple[Path, str]] = field(default_factory=list)


def scan_runs(root: str | os.PathLike) -> RunScan:
    """Every folder under ``root`` with a run.json: read (newest first), or listed as damaged.

    Hidden folders are write_run's work in progress and are skipped, not reported.
    """
    root = Path(root)
    scan = RunScan()
    if not root.is_dir():
        return scan
    for run_file in root.rglob(RUN_FILE):
        folder = run_file.parent
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        try:
            scan.runs.append(read_run(folder))
        except (OSError, ValueError) as exc:
            scan.damaged.append((folder, str(exc)))
    scan.runs.sort(key=lambda r: r.meta.get("created", ""), reverse=True)
    return scan


def find_runs(root: str | os.PathLike, method: str | None = None, dataset: str | None = None) -> list[RunInfo]:
    """Every complete run under ``root`` (newest first), optionally of one method / dataset."""
    return [info for info in scan_runs(root).runs
            if (not method or info.meta.get("method", "geom") == method)
            and (not dataset or info.meta.get("dataset") == dataset)]


def run_roots(results: str | os.PathLike) -> list[Path]:
    """The folders runs may be opened from: the results folder, then those listed in $GEOM_RUN_ROOTS.

    The explorer opens a run (``?run=``, the sidebar's "open a run folder") only inside these, so a
    link or a typed path cannot make a shared server read arbitrary folders; whoever starts the
    server widens the set by listing more roots.
    """
    extra = [p for p in os.environ.get(RUN_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots = []
    for folder in [results, *extra]:
        resolved = Path(folder).expanduser().resolve()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def resolve_run_folder(value: str, roots: Sequence[Path]) -> Path:
    """The run folder ``value`` names, if it lies inside one of ``roots`` and reads as a run.

    Relative values are read against the first root (short links such as ``geom/digits/3/tiny-seed0``).
    Raises ValueError saying why the folder cannot be opened.
    """
    try:
        path = (roots[0] / Path(value.strip()).expanduser()).resolve()
    except (OSError, ValueError) as exc:  # e.g. a NUL byte or an over-long name
        raise ValueError(f"not a usable path: {exc}") from exc
    if not any(path.is_relative_to(root) for root in roots):
        raise ValueError(f"{path} is outside the folders runs may be opened from "
                         f"({', '.join(map(str, roots))}; more can be listed in ${RUN_ROOTS_ENV})")
    try:
        read_run(path)
    except OSError as exc:
        raise ValueError(str(exc)) from exc
    return path


def recover_interrupted_writes(root: str | os.PathLike, min_age_s: float = 60.0) -> list[str]:
    """Finish or undo what a crash inside write_run left under ``root``; one logged line per action.

    write_run commits at its first rename (the old run moved aside), which it makes only once the new
    run is complete. So: an ``.old-*`` beside its run means the swap finished (the old copy is
    removed); an ``.old-*`` without its run means the crash came between the renames (the complete
    ``.tmp-*`` is moved into place, else the old run is restored); a ``.tmp-*`` left otherwise was
    never committed (removed). Leftovers younger than ``min_age_s`` may belong to a write still under
    way in another process, and are left alone.
    """
    root = Path(root)
    actions: list[str] = []
    if not root.is_dir():
        return actions
    now = time.time()
    groups: dict[Path, dict[str, list[Path]]] = {}
    for folder in root.rglob(".*"):
        match = LEFTOVER.match(folder.name)
        if match and folder.is_dir() and now - folder.stat().st_mtime >= min_age_s:
            kinds = groups.setdefault(folder.parent / match["name"], {"tmp": [], "old": []})
            kinds[match["kind"]].append(folder)

    def act(message: str) -> None:
        log.warning("%s", message)
        actions.append(message)

    for target, kinds in groups.items():
        temps = sorted(kinds["tmp"], key=lambda p: p.stat().st_mtime, reverse=True)
        if kinds["old"] and not target.exists():
            complete = [t for t in temps if is_complete(t)]
            if complete:
                os.replace(complete[0], target)
                temps.remove(complete[0])
                act(f"recovered {target}: moved the completed rewrite {complete[0].name} into place")
            else:
                os.replace(kinds["old"].pop(0), target)
                act(f"restored {target} from before an interrupted rewrite")
        for leftover in [*kinds["old"], *temps]:
            shutil.rmtree(leftover, ignore_errors=True)
            act(f"removed {leftover}, left by an interrupted write")
    return actions


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in run.json")
