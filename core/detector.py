"""GeomDetector: the trained transform classifier plus its per-transform Dirichlet fits.

Two score conventions, named so nobody mixes them up:
- ``score(x)``: GEOM's normality score, higher = more normal (the paper's n_S(x)).
- ``decision_function(x)``: its negation, higher = more anomalous (scikit-learn / PyOD convention).

A checkpoint is one dict of tensors and plain values, loaded with ``weights_only=True`` so opening a
file never runs code from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from core.config import GeomConfig
from core.data import as_model_input
from core.dirichlet import dirichlet_contributions, fit_dirichlet, simple_score
from core.runs import CheckpointError, atomic_torch_save, read_checkpoint_dict
from core.train import (
    ProgressFn,
    autocast_context,
    build_model,
    memory_format,
    resolve_device,
    resolve_precision,
    train_classifier,
)
from core.wrn import WideResNet, inference_copy

CHECKPOINT_FORMAT = "geom-detector/1"
SCORE_METHODS = ("dirichlet", "simple")
ScoreProgressFn = Callable[[int, int], None]  # (images done, images total)


@dataclass
class ScoreSummary:
    """What a run keeps of scoring a test set, without holding the (N, k, k) softmax tensor."""

    dirichlet: np.ndarray  # (N,) normality score, higher = more normal
    simple: np.ndarray  # (N,) mean probability of the right transform
    correct_prob: np.ndarray  # (N, k) probability of the right transform, per transform
    mean_softmax_normal: np.ndarray  # (k, k) mean softmax matrix of the normal images (zeros if none)
    mean_softmax_anomalous: np.ndarray  # (k, k) the same for the anomalies


class GeomDetector:
    """Fit on normal images, then score any image by how well its transforms are recognised."""

    def __init__(self, config: GeomConfig, device: str | torch.device = "auto") -> None:
        self.config = config
        self.device = resolve_device(device)
        self.transforms = config.transform_set()
        self.model: torch.nn.Module | None = None
        self.alphas: np.ndarray | None = None  # (k, k) Dirichlet parameters, row t for transform t
        self._dtype = resolve_precision(config.precision, self.device)
        self._scorer: tuple[torch.nn.Module, torch.nn.Module] | None = None  # (model, its inference copy)

    # ----- fitting -------------------------------------------------------------------------------
    def fit(self, x_normal: np.ndarray | torch.Tensor, progress: ProgressFn | None = None,
            score_progress: ScoreProgressFn | None = None) -> "GeomDetector":
        """Train the classifier on normal images, then fit one Dirichlet per transform."""
        x = as_model_input(x_normal)
        self._check_shape(x)
        rng = np.random.default_rng(self.config.seed)
        if self.config.max_train_images is not None and len(x) > self.config.max_train_images:
            x = x[torch.from_numpy(np.sort(rng.choice(len(x), self.config.max_train_images, replace=False)))]
        if len(x) < 2:
            raise ValueError(f"need at least 2 normal training images, got {len(x)}")
        self.model = train_classifier(x, self.config, self.device, progress)
        fit_x = x
        if self.config.fit_images is not None and len(x) > self.config.fit_images:
            fit_x = x[torch.from_numpy(np.sort(rng.choice(len(x), self.config.fit_images, replace=False)))]
        p = self.softmax_matrix(fit_x, score_progress)  # (N, k, k)
        self.alphas = fit_dirichlet(np.transpose(p, (1, 0, 2)))
        return self

    # ----- scoring -------------------------------------------------------------------------------
    def _require_fitted(self) -> torch.nn.Module:
        if self.model is None:
            raise RuntimeError("this detector is not fitted: call fit() or GeomDetector.load() first")
        return self.model

    def inference_model(self) -> torch.nn.Module:
        """The BN-folded copy of a WRN (other networks as they are), rebuilt when ``self.model`` is replaced."""
        model = self._require_fitted()
        if self._scorer is None or self._scorer[0] is not model:
            fmt = memory_format(self.device, self._dtype)
            scorer = inference_copy(model) if isinstance(model, WideResNet) else model
            self._scorer = (model, scorer.to(self.device, memory_format=fmt))
        return self._scorer[1]

    def _check_shape(self, x: torch.Tensor) -> None:
        want = (self.config.in_channels, self.config.image_size, self.config.image_size)
        if tuple(x.shape[1:]) != want:
            raise ValueError(f"images of shape {tuple(x.shape[1:])} (C, H, W) do not fit this detector, which expects {want}")

    def _softmax_batches(self, x: np.ndarray | torch.Tensor, progress: ScoreProgressFn | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start index, softmax (b, k, k)) over batches of images, each expanded to its k transforms."""
        model = self.inference_model()
        x = as_model_input(x)
        self._check_shape(x)
        k = len(self.transforms)
        fmt = memory_format(self.device, self._dtype)
        b = self.config.score_batch_images or (256 if self.device.type == "cuda" else 8)
        with torch.inference_mode():
            for start in range(0, len(x), b):
                chunk = x[start:start + b].to(self.device)
                n = len(chunk)
                if n < b < len(x):  # keep one batch shape: oneDNN re-plans (seconds) for every new shape
                    chunk = torch.cat([chunk, chunk.new_zeros((b - n, *chunk.shape[1:]))])
                inputs = self.transforms.apply_all(chunk).contiguous(memory_format=fmt)
                with autocast_context(self.device, self._dtype):
                    logits = model(inputs)
                # float64: a confident classifier's wrong-transform probabilities fall below float32's range
                probs = torch.softmax(logits.double(), dim=1).view(len(chunk), k, k)[:n]
                yield start, probs.cpu().numpy()
                if progress is not None:
                    progress(min(start + b, len(x)), len(x))

    def softmax_matrix(self, x: np.ndarray | torch.Tensor, progress: ScoreProgressFn | None = None) -> np.ndarray:
        """(N, k, k): row t of image n is the softmax y(T_t(x_n)) over the k transforms."""
        parts = [p for _, p in self._softmax_batches(x, progress)]
        k = len(self.transforms)
        return np.concatenate(parts) if parts else np.zeros((0, k, k))

    def score_softmax(self, softmax: np.ndarray, method: str = "dirichlet") -> np.ndarray:
        """Normality score (higher = more normal) from an already computed softmax tensor."""
        if method == "dirichlet":
            if self.alphas is None:
                raise RuntimeError("the Dirichlet score needs a fitted detector")
            return dirichlet_contributions(softmax, self.alphas).sum(-1)
        if method == "simple":
            return simple_score(softmax)
        raise ValueError(f"unknown score method {method!r}; choose one of {', '.join(SCORE_METHODS)}")

    def score(self, x: np.ndarray | torch.Tensor, method: str = "dirichlet") -> np.ndarray:
        """GEOM's normality score, higher = more normal."""
        return self.score_softmax(self.softmax_matrix(x), method)

    def decision_function(self, x: np.ndarray | torch.Tensor, method: str = "dirichlet") -> np.ndarray:
        """Anomaly score, higher = more anomalous (the negated normality score)."""
        return -self.score(x, method)

    def summarise(self, x: np.ndarray | torch.Tensor, is_normal: np.ndarray | None = None,
                  progress: ScoreProgressFn | None = None) -> ScoreSummary:
        """Both scores, per-transform correctness and group-mean softmax in one pass over ``x``."""
        if self.alphas is None:
            raise RuntimeError("this detector is not fitted: call fit() or GeomDetector.load() first")
        n = len(x)
        k = len(self.transforms)
        normal = np.ones(n, bool) if is_normal is None else np.asarray(is_normal, bool)
        dirichlet, simple = np.empty(n), np.empty(n)
        correct = np.empty((n, k), np.float32)
        sums = np.zeros((2, k, k))
        for start, p in self._softmax_batches(x, progress):
            sl = slice(start, start + len(p))
            dirichlet[sl] = dirichlet_contributions(p, self.alphas).sum(-1)
            diag = np.diagonal(p, axis1=1, axis2=2)
            correct[sl] = diag
            simple[sl] = diag.mean(1)
            sums[0] += p[normal[sl]].sum(0)
            sums[1] += p[~normal[sl]].sum(0)
        counts = np.array([normal.sum(), (~normal).sum()]).clip(min=1)[:, None, None]
        means = (sums / counts).astype(np.float32)
        return ScoreSummary(dirichlet, simple, correct, means[0], means[1])

    # ----- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the checkpoint atomically: a crash mid-write never leaves a half file behind."""
        model = self._require_fitted()
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "architecture": self.config.architecture(),
            "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            "alphas": torch.from_numpy(np.asarray(self.alphas, dtype=np.float64)),
        }
        atomic_torch_save(state, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto",
             expected: GeomConfig | None = None) -> "GeomDetector":
        """Open a checkpoint; with ``expected``, refuse one whose transforms or architecture differ."""
        path = Path(path)
        state = read_checkpoint_dict(path, CHECKPOINT_FORMAT, "GEOM",
                                     ". Retrain, or point at the model.pt of a run folder.")
        try:
            config = GeomConfig.from_dict(state["config"])
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path} has an unreadable config: {exc}") from exc
        if expected is not None:
            ours, theirs = expected.architecture(), config.architecture()
            diff = [key for key in ours if ours[key] != theirs[key]]
            if diff:
                details = "; ".join(
                    f"{key}: checkpoint has {_short(theirs[key])}, expected {_short(ours[key])}" for key in diff
                )
                raise CheckpointError(f"{path} was trained with a different setting ({details}). "
                                      "Train a model for this setting or pick a matching run.")
        det = cls(config, device)
        model = build_model(config)
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path}: the weights do not match its own config ({exc})") from exc
        det.model = model.to(det.device, memory_format=memory_format(det.device, det._dtype)).eval()
        det.alphas = state["alphas"].numpy()
        if det.alphas.shape != (len(det.transforms),) * 2:
            raise CheckpointError(f"{path}: Dirichlet parameters of shape {det.alphas.shape} do not match {len(det.transforms)} transforms")
        return det


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{len(value)} transforms" if isinstance(value, list) else text[:37] + "..."
