"""GeomDetector: the trained transform classifier plus its per-transform Dirichlet fits.

It implements :class:`core.base_detector.BaseDetector` like every baseline. Two score conventions,
named so nobody mixes them up:
- ``score(x)``: GEOM's normality score, higher = more normal (the paper's n_S(x)).
- ``decision_function(x)``: its negation, higher = more anomalous (scikit-learn / PyOD convention).
- ``predict(x)``: 1 = anomaly, 0 = normal, by ``threshold_``, which ``fit`` sets on normal training
  images it held out of the classifier's training (:meth:`GeomDetector.fit_scoring`, :mod:`core.threshold`).

Gradient ascent and attributions need the score as a differentiable function of the pixels:
:meth:`GeomDetector.log_softmax_matrix` and :meth:`GeomDetector.differentiable_score` recompute it
in torch (fp32, eval mode) instead of the numpy path (inference mode, possibly bf16).

A checkpoint is one dict of tensors and plain values, loaded with ``weights_only=True`` so opening a
file never runs code from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from core.base_detector import BaseDetector
from core.config import GeomConfig
from core.data import as_model_input
from core.dirichlet import dirichlet_contributions, fit_dirichlet, simple_score
from core.runs import CheckpointError, atomic_torch_save, read_checkpoint_dict
from core.threshold import SavedThreshold
from core.train import (
    MEMORY_FORMAT,
    ProgressFn,
    TrainProgress,
    autocast_context,
    build_model,
    resolve_device,
    resolve_precision,
    train_classifier,
)
from core.wrn import WideResNet, inference_copy

if TYPE_CHECKING:
    from core.data import ImageDataset
    from core.runs import RunInfo

CHECKPOINT_FORMAT = "geom-detector/1"  # threshold and decision_scores were added later; older files lack them
# The hold-out split draws from its own seeded stream, so the Dirichlet-fit subsample draws from
# default_rng(seed) as it always did: a detector without hold-out or cap (the Section 6 ablations)
# picks the same images as the runs its measured numbers came from.
_SPLIT_STREAM = 1
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


class GeomDetector(BaseDetector):
    """Fit on normal images, then score any image by how well its transforms are recognised."""

    method, paper_method, title, score_key = "geom", "geom", "GEOM", "dirichlet"
    sets_threshold = True

    def __init__(self, config: GeomConfig, device: str | torch.device = "auto") -> None:
        self.config = config
        self.input_shape = (config.in_channels, config.image_size, config.image_size)
        self.device = resolve_device(device)
        self.transforms = config.transform_set()
        self.model: torch.nn.Module | None = None
        self.alphas: np.ndarray | None = None  # (k, k) Dirichlet parameters, row t for transform t
        self._dtype = resolve_precision(config.precision, self.device)
        self._scorer: tuple[torch.nn.Module, torch.nn.Module] | None = None  # (model, its inference copy)
        self.history: list[TrainProgress] = []  # the last fit's training history, at the progress cadence

    # ----- fitting -------------------------------------------------------------------------------
    def fit(self, x_normal: np.ndarray | torch.Tensor, progress: ProgressFn | None = None,
            score_progress: ScoreProgressFn | None = None) -> GeomDetector:
        """Train the classifier on the normal images less a held-out slice, fit one Dirichlet per
        transform, and set ``threshold_`` on the held-out slice (see :meth:`split`, :meth:`fit_scoring`)."""
        train_x, held_x = self.split(x_normal)
        self.history = []
        self.model = train_classifier(train_x, self.config, self.device, progress, history=self.history)
        self.fit_scoring(train_x, held_x, score_progress)
        return self

    def split(self, x_normal: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the images the classifier trains on, the held-out slice or None), drawn with the config's seed.

        ``holdout_fraction`` of the images (at least one; two when the Dirichlets are fitted on them)
        are held out; a class too small to keep 2 images for training besides is refused, naming its
        size. ``holdout_fraction=0`` holds nothing out and sets no threshold.
        """
        cfg = self.config
        x = as_model_input(x_normal)
        self.check_shape(x)
        rng = np.random.default_rng([cfg.seed, _SPLIT_STREAM])
        x = x[_subsample(rng, len(x), cfg.max_train_images)]
        if cfg.holdout_fraction == 0:
            if len(x) < 2:
                raise ValueError(f"need at least 2 normal training images, got {len(x)}")
            return x, None
        n_held = max(2 if cfg.dirichlet_fit == "held_out" else 1, round(cfg.holdout_fraction * len(x)))
        if len(x) - n_held < 2:
            raise ValueError(f"{len(x)} normal training images are too few to hold {n_held} out for the threshold "
                             f"(holdout_fraction {cfg.holdout_fraction}, dirichlet_fit {cfg.dirichlet_fit!r}) and "
                             "train on at least 2: bring more images, or set holdout_fraction=0 to train on all of "
                             "them without a threshold")
        held = np.zeros(len(x), bool)
        held[rng.choice(len(x), n_held, replace=False)] = True
        return x[torch.from_numpy(~held)], x[torch.from_numpy(held)]

    def fit_scoring(self, train_x: torch.Tensor, held_x: torch.Tensor | None,
                    progress: ScoreProgressFn | None = None) -> None:
        """Fit the Dirichlets on the images ``dirichlet_fit`` names, then set the threshold on ``held_x``.

        The default, ``"training"``, fits them on images the classifier trained on (at most
        ``fit_images`` of them), as the paper does, and keeps the held-out slice for the threshold
        alone: its scores are then those of images no part of the detector was fitted to, like any
        new image's, so the threshold flags about ``contamination`` of new normal images. With
        ``"held_out"`` the Dirichlets are fitted on the held-out slice: softmax vectors of images the
        classifier never trained on, as a test image's are, but the threshold is then set on the very
        images the fit was made to. Which gives the better AUROC and the truer false-positive rate is
        what bench/threshold_fit.py measures; with the trained classifier shared, the two differ only here.
        """
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        held_p = None if held_x is None else self.softmax_matrix(held_x, progress)
        if cfg.dirichlet_fit == "held_out":
            assert held_p is not None  # GeomConfig refuses held_out without a hold-out
            fit_p = held_p[_subsample(rng, len(held_p), cfg.fit_images).numpy()]
        else:
            fit_p = self.softmax_matrix(train_x[_subsample(rng, len(train_x), cfg.fit_images)], progress)
        self.alphas = fit_dirichlet(np.transpose(fit_p, (1, 0, 2)))
        self.threshold_ = self.decision_scores_ = None
        if held_p is not None:
            self.set_threshold(-self.score_softmax(held_p), cfg.contamination)

    def saved_threshold(self) -> SavedThreshold | None:
        """The threshold as run.json records it, or None for a detector without one."""
        if self.threshold_ is None or self.decision_scores_ is None:
            return None
        return SavedThreshold(self.threshold_, len(self.decision_scores_), self.config.contamination)

    @classmethod
    def run_one_vs_all(cls, data: ImageDataset, normal_class: int, preset: str, seed: int, device: str = "auto",
                       data_dir: str | None = None, out: str | None = None,
                       stage: Callable[[str], None] | None = None,
                       progress: Callable[[float, str], None] | None = None,
                       overrides: tuple[tuple[str, Any], ...] = ()) -> RunInfo:
        """core.experiment.run_one_class (imported here: it builds on this module); ``progress`` is not
        used, since GEOM reports training steps, not fractions of a fit."""
        from core.experiment import RunRequest, run_one_class

        return run_one_class(RunRequest(data.name, normal_class, preset, seed, device, data_dir, out, overrides),
                             stage=stage)

    # ----- scoring -------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self.model is not None

    def _fitted_model(self) -> torch.nn.Module:
        self.require_fitted()
        assert self.model is not None
        return self.model

    def inference_model(self) -> torch.nn.Module:
        """The BN-folded copy of a WRN (other networks as they are), rebuilt when ``self.model`` is replaced."""
        model = self._fitted_model()
        if self._scorer is None or self._scorer[0] is not model:
            scorer = inference_copy(model) if isinstance(model, WideResNet) else model
            self._scorer = (model, scorer.to(self.device, memory_format=MEMORY_FORMAT))
        return self._scorer[1]

    @property
    def score_batch(self) -> int:
        """Images per scoring batch, each expanded to its k transforms (the config's, else by device)."""
        return self.config.score_batch_images or (256 if self.device.type == "cuda" else 8)

    def _softmax_batches(self, x: np.ndarray | torch.Tensor,
                         progress: ScoreProgressFn | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(start index, softmax (b, k, k)) over batches of images, each expanded to its k transforms."""
        x = self.prepare(x)
        model = self.inference_model()
        k = len(self.transforms)
        b = self.score_batch
        with torch.inference_mode():
            for start in range(0, len(x), b):
                chunk = x[start:start + b].to(self.device)
                n = len(chunk)
                if n < b < len(x):  # keep one batch shape: oneDNN re-plans (seconds) for every new shape
                    chunk = torch.cat([chunk, chunk.new_zeros((b - n, *chunk.shape[1:]))])
                inputs = self.transforms.apply_all(chunk).contiguous(memory_format=MEMORY_FORMAT)
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

    def decision_function(self, x: np.ndarray | torch.Tensor, method: str = "dirichlet",
                          progress: ScoreProgressFn | None = None) -> np.ndarray:
        """Anomaly score, higher = more anomalous (the negated normality score).

        Scored batch by batch: the (N, k, k) softmax tensor of a whole test set (750 MB for 18,000
        images at k=72) is never held at once."""
        if method not in SCORE_METHODS:  # refused before any batch is scored, as score_softmax would
            raise ValueError(f"unknown score method {method!r}; choose one of {', '.join(SCORE_METHODS)}")
        self.require_fitted()
        if method == "dirichlet" and self.alphas is None:
            raise RuntimeError("the Dirichlet score needs a fitted detector")
        parts = [self.score_softmax(p, method) for _, p in self._softmax_batches(x, progress)]
        return -(np.concatenate(parts) if parts else np.zeros(0))

    def score(self, x: np.ndarray | torch.Tensor, method: str = "dirichlet",
              progress: ScoreProgressFn | None = None) -> np.ndarray:
        """GEOM's normality score, higher = more normal."""
        return -self.decision_function(x, method, progress)

    # ----- the score as a differentiable function of the pixels (ascent, attributions) -------------
    def _eval_model(self) -> torch.nn.Module:
        """The trained network in eval mode: BatchNorm uses its running statistics, so each image's
        score is its own."""
        model = self._fitted_model()
        model.eval()
        return model

    def log_softmax_matrix(self, x: torch.Tensor) -> torch.Tensor:
        """(N, k, k) log-softmax: row t of image n is log y(T_t(x_n)), differentiable in x (fp32)."""
        model = self._eval_model()
        n, k = x.shape[0], len(self.transforms)
        logits = model(self.transforms.apply_all(x.to(self.device)).contiguous())
        return F.log_softmax(logits.float(), dim=1).view(n, k, k)

    def score_log_softmax(self, log_p: torch.Tensor, method: str = "simple") -> torch.Tensor:
        """(N,) normality score from (N, k, k) log-probabilities, in torch.

        The Dirichlet score is taken from the log-softmax itself, which equals :meth:`score` (float64
        softmax, clipped only below float64's range) to rounding.
        """
        if method == "simple":
            return torch.diagonal(log_p.exp(), dim1=1, dim2=2).mean(1)
        if method == "dirichlet":
            if self.alphas is None:
                raise RuntimeError("the Dirichlet score needs a fitted detector")
            alphas = torch.as_tensor(self.alphas, dtype=log_p.dtype, device=log_p.device)
            return ((alphas - 1.0) * log_p).sum((-1, -2))
        raise ValueError(f"unknown score method {method!r}; choose one of {', '.join(SCORE_METHODS)}")

    def differentiable_score(self, x: torch.Tensor, method: str = "simple") -> torch.Tensor:
        """Normality score of a float batch (N, C, H, W) in [-1, 1] -> (N,), differentiable in x."""
        return self.score_log_softmax(self.log_softmax_matrix(x), method)

    def transform_log_prob(self, x: torch.Tensor, t_idx: torch.Tensor) -> torch.Tensor:
        """(N,) log p_t(T_t(x_n)) with t = t_idx[n]: how surely the classifier recognises transform t."""
        model = self._eval_model()
        t_idx = t_idx.to(x.device).long()
        logits = model(self.transforms.apply(x, t_idx).contiguous())
        return F.log_softmax(logits.float(), dim=1).gather(1, t_idx.view(-1, 1)).squeeze(1)

    def summarise(self, x: np.ndarray | torch.Tensor, is_normal: np.ndarray | None = None,
                  progress: ScoreProgressFn | None = None) -> ScoreSummary:
        """Both scores, per-transform correctness and group-mean softmax in one pass over ``x``."""
        if self.alphas is None:
            self.require_fitted()
            raise RuntimeError("this detector has no Dirichlet fits yet: fit() has not finished")
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
        model = self._fitted_model()
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "architecture": self.config.architecture(),
            "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            "alphas": torch.from_numpy(np.asarray(self.alphas, dtype=np.float64)),
            "threshold": None if self.threshold_ is None else float(self.threshold_),  # no numpy scalar: weights_only
            "decision_scores": None if self.decision_scores_ is None else torch.from_numpy(self.decision_scores_),
        }
        atomic_torch_save(state, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto",
             expected: GeomConfig | None = None, precision: str | None = None) -> GeomDetector:
        """Open a checkpoint; with ``expected``, refuse one whose transforms or architecture differ.

        ``precision`` (auto, bf16, fp32) replaces the checkpoint's own: the ONNX export's parity check
        scores in fp32, as its graph does, whatever the run was trained with.
        """
        path = Path(path)
        state = read_checkpoint_dict(path, CHECKPOINT_FORMAT, "GEOM",
                                     ". Retrain, or point at the model.pt of a run folder.")
        try:
            config = GeomConfig.from_dict(state["config"])
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path} has an unreadable config: {exc}") from exc
        if precision is not None:
            config = replace(config, precision=precision)
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
        det.model = model.to(det.device, memory_format=MEMORY_FORMAT).eval()
        det.alphas = state["alphas"].numpy()
        if det.alphas.shape != (len(det.transforms),) * 2:
            raise CheckpointError(f"{path}: Dirichlet parameters of shape {det.alphas.shape} do not match "
                                  f"{len(det.transforms)} transforms")
        threshold, scores = state.get("threshold"), state.get("decision_scores")  # both absent in older files
        if threshold is not None or scores is not None:
            if not isinstance(threshold, float) or not isinstance(scores, torch.Tensor) or scores.ndim != 1 \
                    or len(scores) == 0:
                raise CheckpointError(f"{path}: its threshold ({type(threshold).__name__}) and held-out scores "
                                      f"({type(scores).__name__}) are damaged; retrain")
            det.threshold_, det.decision_scores_ = threshold, scores.double().numpy()
        return det


def _subsample(rng: np.random.Generator, n: int, limit: int | None) -> torch.Tensor:
    """Sorted indices of ``limit`` of ``n`` items drawn without replacement, or all of them."""
    if limit is None or n <= limit:
        return torch.arange(n)
    return torch.from_numpy(np.sort(rng.choice(n, limit, replace=False)))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{len(value)} transforms" if isinstance(value, list) else text[:37] + "..."
