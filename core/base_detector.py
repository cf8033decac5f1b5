"""The interface every detector implements, GEOM and the paper's baselines alike (PyOD's BaseDetector).

- ``fit(x_normal, ...)`` on the normal class's training images (uint8 ``(N, H, W, C)`` or a float
  ``(N, C, H, W)`` tensor in [-1, 1]).
- ``decision_function(x)``: anomaly score, higher = more anomalous (scikit-learn / PyOD).
- ``score(x)``: its negation, the normality score, higher = more normal (the paper's n_S(x)).
- ``threshold_``, ``decision_scores_``: PyOD's decision threshold on the anomaly score and the scores
  of the images that set it, or None for a detector without one (the baselines set none; GEOM sets
  one in ``fit`` from held-out normal images, see :mod:`core.threshold`).
- ``predict(x)``: 1 = anomaly (anomaly score above ``threshold_``), 0 = normal; ``predict_proba(x)``:
  PyOD's (N, 2) columns [normal, anomaly] of the anomaly score rescaled against ``decision_scores_``.
- ``save(path)`` / ``load(path)``: one ``torch.save`` dict of tensors and plain values, opened with
  ``weights_only=True`` so opening a file never runs code from it.
- ``run_one_vs_all(...)``: the paper's protocol for one normal class, written as a run folder.

The class attributes are what tables, ``reproduce`` and the run folders need to know of a method,
so nothing outside the registry (:mod:`core.baselines`) asks "is this GEOM?".
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from core.data import as_model_input
from core.threshold import anomaly_probability, check_proba_method, is_anomaly, threshold_at_contamination

if TYPE_CHECKING:
    from core.data import ImageDataset
    from core.runs import RunInfo


class BaseDetector(ABC):
    """Fit on normal images; then a score per image. See the module docstring for the contract."""

    method: ClassVar[str]  # registry name, also the run folder's <method> level, e.g. "raw-ocsvm-hindsight"
    paper_method: ClassVar[str]  # the paper's column (core.paper_tables), e.g. "raw-ocsvm"
    title: ClassVar[str]  # shown in tables and charts
    score_key: ClassVar[str]  # the metrics.json / scores.npz key of its main normality score
    run_once: ClassVar[bool] = False  # the paper ran it once (OC-SVMs); reproduce runs one seed
    sets_threshold: ClassVar[bool] = False  # fit() sets threshold_ (GEOM, from held-out normal images)
    uses_gpu: ClassVar[bool] = True  # trains a network: a sweep on a cluster gives its jobs a GPU (core.ray_backend)

    device: torch.device

    @abstractmethod
    def fit(self, x_normal: np.ndarray | torch.Tensor, *args: Any, **kwargs: Any) -> BaseDetector:
        """Learn the normal class from its training images; returns self."""

    @abstractmethod
    def decision_function(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Anomaly score, higher = more anomalous."""

    def score(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Normality score, higher = more normal (the negated anomaly score)."""
        return -self.decision_function(x)

    # ----- decisions, PyOD's way: written once for every method ------------------------------------
    threshold_: float | None = None  # anomaly scores above it are anomalies; None: this detector has none
    decision_scores_: np.ndarray | None = None  # (N,) anomaly scores of the images that set threshold_

    def set_threshold(self, decision_scores: np.ndarray, contamination: float) -> None:
        """Put ``threshold_`` at the (1 - contamination) quantile of ``decision_scores`` (PyOD's rule)."""
        self.decision_scores_ = np.asarray(decision_scores, np.float64).ravel()
        self.threshold_ = threshold_at_contamination(self.decision_scores_, contamination)

    def missing_threshold(self) -> str:
        """Why this detector has no threshold_, for messages."""
        if self.sets_threshold:
            return (f"this {self.title} detector has no saved threshold: it was saved before detectors kept one, "
                    "or fitted with holdout_fraction=0; retrain to get one")
        return f"{self.title} sets no threshold: its fit holds no normal images out to set one on"

    def _threshold(self) -> float:
        if self.threshold_ is None:
            raise RuntimeError(f"cannot predict: {self.missing_threshold()}")
        return self.threshold_

    def predict(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """(N,) int: 1 = anomaly (anomaly score above ``threshold_``), 0 = normal (PyOD's convention)."""
        threshold = self._threshold()
        return is_anomaly(self.decision_function(x), threshold).astype(np.int64)

    def predict_proba(self, x: np.ndarray | torch.Tensor, method: str = "linear") -> np.ndarray:
        """(N, 2): PyOD's [normal, anomaly] columns, the anomaly score rescaled to [0, 1] against the
        images that set the threshold (``method``: see :func:`core.threshold.anomaly_probability`).

        A rescaled score, not a calibrated probability: those images were all normal.
        """
        self._threshold()  # the same refusal as predict for a detector without one
        check_proba_method(method)
        assert self.decision_scores_ is not None  # set together with threshold_
        p = anomaly_probability(self.decision_function(x), self.decision_scores_, method)
        return np.stack([1.0 - p, p], axis=1)

    @abstractmethod
    def save(self, path: str | os.PathLike) -> None:
        """Write the checkpoint atomically (a crash mid-write never leaves half a file)."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> BaseDetector:
        """Open a checkpoint written by :meth:`save`."""

    @classmethod
    @abstractmethod
    def run_one_vs_all(cls, data: ImageDataset, normal_class: int, preset: str, seed: int, device: str = "auto",
                       data_dir: str | None = None, out: str | None = None,
                       stage: Callable[[str], None] | None = None,
                       progress: Callable[[float, str], None] | None = None,
                       overrides: tuple[tuple[str, Any], ...] = ()) -> RunInfo:
        """Fit on one normal class with a preset, score the test set, write and return the run folder.

        ``overrides`` change fields of the preset's config (e.g. ``(("steps", 100),)``) and name the
        folder (:func:`core.runs.run_folder_name`), so such a run never replaces the plain preset's."""

    # ----- the checks every method makes, written once ----------------------------------------------
    input_shape: tuple[int, ...] | None  # (C, H, W) it takes; None while unknown (a baseline learns it in fit)

    @property
    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether the model exists (by fit() or load()), so it can score."""

    def require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(f"this detector is not fitted: call fit() or {type(self).__name__}.load() first")

    def check_shape(self, x: torch.Tensor) -> None:
        want = self.input_shape
        if tuple(x.shape[1:]) != want:
            raise ValueError(f"images of shape {tuple(x.shape[1:])} (C, H, W) do not fit this detector, "
                             f"which expects {want}")

    def prepare(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images as model input, refused when the detector is not fitted or they are shaped otherwise."""
        self.require_fitted()
        x = as_model_input(x)
        self.check_shape(x)
        return x
