"""What every baseline shares: configs with presets, checkpoints, run folders.

A baseline implements :class:`core.base_detector.BaseDetector`, as :class:`core.detector.GeomDetector`
does, so the CLI, ``reproduce`` and the explorer treat every method alike. Hindsight-mode baselines
also need a labelled selection set in ``fit`` (``x_select``, ``is_normal_select``): the paper picked
their hyperparameters by test AUROC. :func:`core.baselines.load_baseline` opens any baseline's
checkpoint by its stored method.

A run of a baseline is written with :func:`core.runs.write_run` in the GEOM layout
``<root>/<method>/<dataset>/<class>/<preset>-seed<seed>/`` and its ``scores.npz`` holds
``test_index``, ``labels``, ``is_normal`` and ``score``; ``run.json`` names that key in
``score_key`` (GEOM runs use ``dirichlet``).
"""

from __future__ import annotations

import os
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch

from core.base_detector import BaseDetector
from core.config import BASELINE_BUDGET_OF, PRESETS, check_known_fields
from core.data import ImageDataset, as_model_input, load_dataset, parse_class
from core.experiment import test_subset
from core.metrics import detection_metrics
from core.runs import (
    CheckpointError,
    RunInfo,
    atomic_torch_save,
    read_checkpoint_dict,
    results_root,
    run_dir,
    run_folder_name,
    run_meta,
    write_run,
)
from core.train import resolve_device

CHECKPOINT_FORMAT = "geom-baseline/1"
SCORE_KEY = "score"  # the scores.npz / metrics.json key of a baseline's normality score

ProgressFn = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


class BaselineFitError(ValueError):
    """A baseline that cannot be fitted on this input, with the reason (e.g. too few images)."""


def subsample(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``limit`` of ``n`` items (all of them when ``limit`` is None)."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


@dataclass(frozen=True)
class BaselineConfig:
    """Base of every baseline's config: plain data, stored in run.json and in the checkpoint."""

    max_train_images: int | None = None  # cap on normal training images (random subsample, seeded)
    max_test_images: int | None = None  # stratified test subsample in a run (None = whole test set)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineConfig:
        check_known_fields(cls, data, cls.__name__)
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


class Baseline(BaseDetector):
    """A baseline: subclasses supply ``_fit``, ``_score`` and their checkpoint state."""

    score_key = SCORE_KEY
    config_cls: ClassVar[type[BaselineConfig]] = BaselineConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {p: {} for p in PRESETS}  # GEOM's preset names
    needs_selection: ClassVar[bool] = False  # hindsight: fit() needs labelled selection images
    min_train_images: ClassVar[int] = 2

    def __init__(self, config: BaselineConfig | None = None, device: str | torch.device = "auto") -> None:
        self.config = config if config is not None else self.config_cls()
        if not isinstance(self.config, self.config_cls):
            raise TypeError(f"{self.method} takes a {self.config_cls.__name__}, got {type(self.config).__name__}")
        self.device = resolve_device(device)
        self.input_shape: tuple[int, int, int] | None = None  # (C, H, W) seen at fit time
        self.fit_info: dict[str, Any] = {}  # what fitting chose (grid, parameters), for run.json

    # ----- construction --------------------------------------------------------------------------
    @classmethod
    def preset_config(cls, preset: str, **overrides: Any) -> BaselineConfig:
        budget = BASELINE_BUDGET_OF.get(preset, preset)
        if budget not in cls.presets:
            raise ValueError(f"unknown preset {preset!r} for {cls.method}; choose one of {', '.join(cls.presets)}")
        cfg = replace(cls.config_cls(), **cls.presets[budget])
        return replace(cfg, **overrides) if overrides else cfg

    # ----- the detector interface ----------------------------------------------------------------
    def fit(self, x_normal: np.ndarray | torch.Tensor, x_select: np.ndarray | torch.Tensor | None = None,
            is_normal_select: np.ndarray | None = None, progress: ProgressFn | None = None) -> Baseline:
        x = as_model_input(x_normal)
        idx = subsample(len(x), self.config.max_train_images, self.config.seed)
        x = x[torch.from_numpy(idx)]
        if len(x) < self.min_train_images:
            raise BaselineFitError(f"{self.method} needs at least {self.min_train_images} normal training images, "
                                   f"got {len(x)}")
        select = None
        if self.needs_selection:
            if x_select is None or is_normal_select is None:
                raise BaselineFitError(f"{self.method} picks its hyperparameters in hindsight: fit() needs "
                                       "x_select and is_normal_select (the labelled test set, as the paper did)")
            is_normal_select = np.asarray(is_normal_select, bool)
            if is_normal_select.all() or not is_normal_select.any():
                raise BaselineFitError("the hindsight selection set needs both normal and anomalous images")
            select = (as_model_input(x_select), is_normal_select)
        self.input_shape = tuple(x.shape[1:])
        self.fit_info = {"n_train_used": int(len(x))}
        self._fit(x, select, progress or (lambda _f, _t: None))
        return self

    @abstractmethod
    def _fit(self, x: torch.Tensor, select: tuple[torch.Tensor, np.ndarray] | None, progress: ProgressFn) -> None:
        """Fit on the (subsampled, checked) normal images; ``select``: the hindsight selection set."""

    @property
    def is_fitted(self) -> bool:
        return self.input_shape is not None

    def decision_function(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Anomaly score, higher = more anomalous (the negated normality score)."""
        return -np.asarray(self._score(self.prepare(x)), dtype=np.float64)

    @abstractmethod
    def _score(self, x: torch.Tensor) -> np.ndarray:
        """Normality score of checked model input, higher = more normal."""

    @classmethod
    def run_one_vs_all(cls, data: ImageDataset, normal_class: int, preset: str, seed: int, device: str = "auto",
                       data_dir: str | None = None, out: str | None = None,
                       stage: Callable[[str], None] | None = None, progress: ProgressFn | None = None,
                       overrides: tuple[tuple[str, Any], ...] = ()) -> RunInfo:
        return run_baseline(cls, data.name, normal_class, preset, seed, device, data_dir, out, overrides,
                            progress=progress, stage=stage, data=data)

    # ----- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """Tensors and plain values that rebuild the fitted model."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Rebuild the fitted model from :meth:`_state`'s values."""

    def save(self, path: str | os.PathLike) -> None:
        """Write the checkpoint atomically (temporary file, then one rename)."""
        self.require_fitted()
        state = {
            "format": CHECKPOINT_FORMAT,
            "method": self.method,
            "config": self.config.to_dict(),
            "input_shape": list(self.input_shape),
            "state": self._state(),
        }
        atomic_torch_save(state, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> Baseline:
        state = read_checkpoint(path)
        if state["method"] != cls.method:
            raise CheckpointError(f"{path} holds a {state['method']} model, not {cls.method}")
        try:
            config = cls.config_cls.from_dict(state["config"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path} has an unreadable config: {exc}") from exc
        det = cls(config, device)
        det.input_shape = tuple(int(v) for v in state["input_shape"])
        try:
            det._load_state(state["state"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{path}: the stored model does not match its config ({exc})") from exc
        return det


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    return read_checkpoint_dict(path, CHECKPOINT_FORMAT, "baseline")


# ----- one-vs-all runs ---------------------------------------------------------------------------
def run_baseline(cls: type[Baseline], dataset: str, normal_class: int | str, preset: str = "quick", seed: int = 0,
                 device: str = "auto", data_dir: str | None = None, out: str | None = None,
                 overrides: tuple[tuple[str, Any], ...] = (), progress: ProgressFn | None = None,
                 stage: Callable[[str], None] | None = None, data: ImageDataset | None = None) -> RunInfo:
    """Fit ``cls`` on one normal class's training images, score the test set, write the run folder."""
    say = stage or (lambda _msg: None)
    if data is None:
        say("loading data")
        data = load_dataset(dataset, data_dir)
    c = parse_class(data, normal_class)
    config = cls.preset_config(preset, seed=seed, **dict(overrides))
    det = cls(config, device)
    x_normal = data.x_train[data.y_train == c]
    index = test_subset(data.y_test, config.max_test_images, seed)  # the sample GEOM would score
    is_normal = data.y_test[index] == c
    x_test = data.x_test[index]
    say(f"fitting {cls.method} on {len(x_normal)} images of {data.class_label(c)}")
    start, cpu_start = time.perf_counter(), time.process_time()
    if cls.needs_selection:
        det.fit(x_normal, x_test, is_normal, progress=progress)
    else:
        det.fit(x_normal, progress=progress)
    train_s = time.perf_counter() - start
    say(f"scoring {len(index)} test images")
    score = det.score(x_test)
    score_s = time.perf_counter() - start - train_s
    metrics = {SCORE_KEY: detection_metrics(is_normal, score)}
    meta = run_meta(cls.method, data, c, preset, seed, config.to_dict(), det.device, len(x_normal), len(index),
                    train_s, score_s, time.process_time() - cpu_start)
    meta.update(paper_method=cls.paper_method, title=cls.title, score_key=SCORE_KEY, hindsight=cls.needs_selection,
                fit=det.fit_info)
    scores = {"test_index": index, "labels": data.y_test[index], "is_normal": is_normal, SCORE_KEY: score}
    path = run_dir(results_root(out), cls.method, data.name, c, run_folder_name(preset, seed, overrides))
    say(f"saving to {path}")
    return write_run(path, meta, metrics, scores, det.save)
