"""The paper's one-vs-all protocol for one normal class: train, score the test set, save a run.

Shared by the command line, the explorer and the notebook, so a run made anywhere opens anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from core.config import GeomConfig, preset_config
from core.data import ImageDataset, load_dataset, parse_class
from core.detector import SCORE_METHODS, GeomDetector, ScoreProgressFn, ScoreSummary
from core.metrics import NO_ANOMALIES, detection_metrics, has_both_groups
from core.paper_tables import paper_value
from core.runs import RunInfo, results_root, run_dir, run_folder_name, run_meta, write_run
from core.selection import AUTO, select_transforms
from core.threshold import THRESHOLD_KEY
from core.train import ProgressFn, resolve_precision

StageFn = Callable[[str], None]


@dataclass(frozen=True)
class RunRequest:
    """Everything that identifies one one-vs-all run."""

    dataset: str
    normal_class: int | str
    preset: str = "quick"
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    out: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()  # extra GeomConfig fields, e.g. (("steps", 100),)

    @property
    def transforms(self) -> str | None:
        """The transforms asked for (a config value, or core.selection.AUTO); None: the preset's."""
        return dict(self.overrides).get("transforms")


def test_subset(y_test: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of the test images to score: all, or a class-stratified sample of ``limit``."""
    n = len(y_test)
    if limit is None or limit >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(y_test):
        members = np.flatnonzero(y_test == c)
        take = max(1, round(limit * len(members) / n))
        picked.append(rng.choice(members, min(take, len(members)), replace=False))
    return np.sort(np.concatenate(picked))


def config_for(request: RunRequest, data: ImageDataset) -> GeomConfig:
    """The config the request trains; with AUTO transforms, the preset's set, from which the rule chooses."""
    cfg = preset_config(request.preset, data.image_size, data.channels, seed=request.seed)
    overrides = {k: v for k, v in request.overrides if (k, v) != ("transforms", AUTO)}
    return replace(cfg, **overrides) if overrides else cfg


def rerun_request(run: RunInfo, transforms: str, device: str = "auto", data_dir: str | None = None,
                  out: str | None = None) -> RunRequest:
    """A request that trains ``run`` again with other ``transforms`` (a config value or AUTO): the same
    dataset, class, preset, seed and every config field the run changed from its preset."""
    meta = run.meta
    config = GeomConfig.from_dict(meta["config"])
    preset = preset_config(meta["preset"], config.image_size, config.in_channels, seed=config.seed)
    changed = tuple((f.name, getattr(config, f.name)) for f in fields(GeomConfig)
                    if f.name not in ("seed", "transforms") and getattr(config, f.name) != getattr(preset, f.name))
    kept = () if transforms == preset.transforms else (("transforms", transforms),)
    return RunRequest(meta["dataset"], meta["normal_class"], meta["preset"], config.seed, device, data_dir, out,
                      changed + kept)


def has_anomalies(data: ImageDataset, normal_class: int) -> bool:
    """Whether the test set has images of another class: without any, a run trains but is not evaluated."""
    return bool((data.y_test != normal_class).any())


def evaluation_metrics(is_normal: np.ndarray, summary: ScoreSummary, say: StageFn) -> dict[str, Any]:
    """AUROC / AUPR per score method, or none (said, not raised) when the test set holds no anomalies,
    so a normal-only dataset still saves its trained run."""
    if not has_both_groups(is_normal):
        say(NO_ANOMALIES)
        return {}
    return {m: detection_metrics(is_normal, getattr(summary, m)) for m in SCORE_METHODS}


def run_path(request: RunRequest, data: ImageDataset, normal_class: int) -> Path:
    """The folder run_one_class writes for ``request``: known before training, so the explorer can key
    a training job by it and two sessions asking for the same run share one job."""
    return run_dir(results_root(request.out), "geom", data.name, normal_class,
                   run_folder_name(request.preset, request.seed, request.overrides))


def run_one_class(request: RunRequest, progress: ProgressFn | None = None,
                  score_progress: ScoreProgressFn | None = None, stage: StageFn | None = None) -> RunInfo:
    """Train on the normal class's training images, score the (whole) test set, write the run."""
    say = stage or (lambda _msg: None)
    say("loading data")
    data = load_dataset(request.dataset, request.data_dir)
    cls = parse_class(data, request.normal_class)
    config = config_for(request, data)
    x_normal = data.x_train[data.y_train == cls]
    start, cpu_start = time.perf_counter(), time.process_time()
    selection = None
    if request.transforms == AUTO:  # the probe's training counts as training time
        selection = select_transforms(x_normal, config, request.device, progress, say)
        config = replace(config, transforms=selection.spec)
    detector = GeomDetector(config, request.device)
    say(f"training on {len(x_normal)} images of {data.class_label(cls)} with {len(detector.transforms)} transforms")
    detector.fit(x_normal, progress=progress)
    train_s = time.perf_counter() - start
    index = test_subset(data.y_test, config.max_test_images, config.seed)
    is_normal = data.y_test[index] == cls
    say(f"scoring {len(index)} test images x {len(detector.transforms)} transforms")
    summary = detector.summarise(data.x_test[index], is_normal, score_progress)
    score_s = time.perf_counter() - start - train_s
    cpu_s = time.process_time() - cpu_start
    metrics = evaluation_metrics(is_normal, summary, say)
    meta = run_meta("geom", data, cls, request.preset, request.seed, config.to_dict(), detector.device,
                    len(x_normal), len(index), train_s, score_s, cpu_s)
    meta["precision"] = str(resolve_precision(config.precision, detector.device) or "fp32").replace("torch.", "")
    threshold = detector.saved_threshold()
    meta[THRESHOLD_KEY] = None if threshold is None else threshold.record()
    if selection is not None:
        meta["transform_selection"] = selection.as_record()
    scores = {
        "test_index": index,
        "labels": data.y_test[index],
        "is_normal": is_normal,
        "dirichlet": summary.dirichlet,
        "simple": summary.simple,
        "correct_prob": summary.correct_prob.astype(np.float16),
        "mean_softmax_normal": summary.mean_softmax_normal,
        "mean_softmax_anomalous": summary.mean_softmax_anomalous,
    }
    path = run_path(request, data, cls)
    say(f"saving to {path}")
    return write_run(path, meta, metrics, scores, detector.save, [p.as_record() for p in detector.history])


def result_line(run: RunInfo, method: str = "dirichlet") -> dict[str, Any]:
    """The one-line JSON summary the CLI prints last, with the paper's number beside ours.

    A run without metrics (no anomalies in its test data) has None for AUROC and AUPR.
    """
    m, metrics = run.meta, run.metrics.get(method)
    paper = paper_value(m["dataset"], m["normal_class"], "auroc")
    return {
        "dataset": m["dataset"],
        "normal_class": m["normal_class"],
        "class_name": m["class_name"],
        "preset": m["preset"],
        "seed": m["seed"],
        "score": method,
        **{key: None if metrics is None else round(metrics[key], 4) for key in ("auroc", "aupr_in", "aupr_out")},
        "paper_auroc": None if paper is None else paper.mean / 100,
        "seconds": m["seconds"],
        "run_dir": str(run.path),
    }

