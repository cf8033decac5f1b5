"""Run folders: one directory per trained detector, readable by the CLI, the explorer and notebooks.

Layout (anomalib-style, so a run trained on a GPU box opens on a laptop unchanged)::

    <root>/<method>/<dataset>/<class index>/<preset>-seed<seed>/
        run.json      what was run: dataset, class, preset, config, timings, versions
        metrics.json  AUROC / AUPR-in / AUPR-out (fractions) for each score method
        scores.npz    test labels and scores, per-transform correctness, mean softmax matrices
        model.pt      the checkpoint (GeomDetector.save)

A run is built in a hidden temporary folder and renamed into place only when complete, so an
interrupted run never leaves a half-written folder that looks finished.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

if TYPE_CHECKING:
    from core.data import ImageDataset

RESULTS_ENV = "GEOM_RESULTS_DIR"
RUN_FILE, METRICS_FILE, SCORES_FILE, MODEL_FILE = "run.json", "metrics.json", "scores.npz", "model.pt"


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
        raise CheckpointError(f"{path} is not a readable {kind} checkpoint ({type(exc).__name__}: {exc}){hint}") from exc
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise CheckpointError(f"{path} is not a {kind} checkpoint (expected format {fmt!r})")
    return state


def run_dir(root: Path, method: str, dataset: str, normal_class: int, name: str) -> Path:
    return root / method / safe_dataset_dirname(dataset) / str(normal_class) / name


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
        with np.load(self.path / SCORES_FILE, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE


def run_meta(method: str, data: "ImageDataset", normal_class: int, preset: str, seed: int, config: dict[str, Any],
             device: torch.device | str, n_train: int, n_test: int, train_s: float, score_s: float,
             cpu_s: float) -> dict[str, Any]:
    """The run.json fields every method writes, so the CLI, the tables and the explorer read all alike."""
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
        "device": str(device),
        "n_train": int(n_train),
        "n_test": int(n_test),
        "train_seconds": round(train_s, 2),
        "score_seconds": round(score_s, 2),
        "seconds": round(train_s + score_s, 2),
        # CPU time of all this process's threads: on a shared machine, wall seconds measure the
        # neighbours too; cpu_seconds / threads is what the run costs on an idle one.
        "cpu_seconds": round(cpu_s, 2),
        "threads": torch.get_num_threads(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def write_run(path: Path, meta: dict[str, Any], metrics: dict[str, Any], scores: dict[str, np.ndarray],
              write_model: Callable[[Path], None] | None = None) -> RunInfo:
    """Write every file into a temporary sibling folder, then swap it into ``path`` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        (tmp / RUN_FILE).write_text(json.dumps(meta, indent=2, default=_jsonable))
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        np.savez(tmp / SCORES_FILE, **scores)
        if write_model is not None:
            write_model(tmp / MODEL_FILE)
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


def is_complete(path: Path) -> bool:
    return all((path / f).is_file() for f in (RUN_FILE, METRICS_FILE, SCORES_FILE))


def read_run(path: str | os.PathLike) -> RunInfo:
    """Read a run folder, saying clearly when it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no run folder at {path}")
    if not is_complete(path):
        missing = [f for f in (RUN_FILE, METRICS_FILE, SCORES_FILE) if not (path / f).is_file()]
        raise FileNotFoundError(f"{path} is not a complete run folder (missing {', '.join(missing)})")
    try:
        meta = json.loads((path / RUN_FILE).read_text())
        metrics = json.loads((path / METRICS_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} has a damaged JSON file: {exc}") from exc
    return RunInfo(path, meta, metrics)


def find_runs(root: str | os.PathLike, method: str | None = None, dataset: str | None = None) -> list[RunInfo]:
    """Every complete run under ``root`` (newest first), optionally of one method / dataset."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for run_file in root.rglob(RUN_FILE):
        folder = run_file.parent
        if folder.name.startswith(".") or not is_complete(folder):
            continue
        try:
            info = read_run(folder)
        except (OSError, ValueError):
            continue
        if method and info.meta.get("method", "geom") != method:
            continue
        if dataset and info.meta.get("dataset") != dataset:
            continue
        runs.append(info)
    return sorted(runs, key=lambda r: r.meta.get("created", ""), reverse=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in run.json")
