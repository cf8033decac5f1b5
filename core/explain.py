"""Where in an image the detector finds it normal or not: captum attributions of GEOM's score.

Two kinds of target, both differentiable in the input pixels (see core.ascent):

- the normality score itself (Dirichlet or simplified): which pixels raise or lower it;
- per transform t, log p_t(T_t(x)), the log-probability the classifier gives the right transform:
  which pixels let it recognise that T_t was applied. Attributions flow back through the transform
  (a pixel gather), so every map is in the coordinates of the original image.

Methods: Integrated Gradients (path integral of the gradient from a baseline image, default: the
all-black image, i.e. the blank canvas of a digit; its attributions sum to f(x) - f(baseline), the
"completeness" checked by the tests), Saliency (|gradient|) and Occlusion (drop in the target when a
window is painted with the baseline value).

Which test images to explain (a typical normal image, the worst mistakes) is core.scores.RunScores's
question. captum is imported only in this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients, Occlusion, Saliency

from core.ascent import normality_score
from core.data import as_model_input
from core.detector import SCORE_METHODS, GeomDetector

METHODS: dict[str, str] = {"ig": "Integrated Gradients", "saliency": "Saliency", "occlusion": "Occlusion"}
BASELINES: dict[str, float] = {"black": -1.0, "grey": 0.0}
ExplainProgressFn = Callable[[int, int], None]  # (forward passes done, expected total)


@dataclass(frozen=True)
class ExplainSettings:
    """Which attribution, of which score, with which knobs."""

    method: str = "ig"  # ig, saliency or occlusion
    score: str = "dirichlet"  # the normality score explained when the target is the score
    n_steps: int = 32  # Integrated Gradients: points on the path (more = smaller completeness error)
    baseline: str = "black"  # IG and Occlusion reference image: black (-1, a blank canvas) or grey (0)
    window: int = 6  # Occlusion: side of the square window, pixels
    stride: int = 3  # Occlusion: step between windows, pixels
    internal_batch_size: int = 8  # images (each with its k transforms) per forward pass

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown attribution method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.score not in SCORE_METHODS:
            raise ValueError(f"unknown score method {self.score!r}; choose one of {', '.join(SCORE_METHODS)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown baseline {self.baseline!r}; choose one of {', '.join(BASELINES)}")
        if self.n_steps < 2 or self.window < 1 or self.stride < 1 or self.internal_batch_size < 1:
            raise ValueError("n_steps must be >= 2; window, stride and internal_batch_size >= 1")


@dataclass
class Attribution:
    """Attribution maps for a batch of N images, and the target's values."""

    method: str
    target: str  # "dirichlet score", "simple score", or the transform's name
    maps: np.ndarray  # (N, C, H, W), same shape as the model input
    value: np.ndarray  # (N,) target at the image
    baseline_value: np.ndarray  # (N,) target at the baseline image
    delta: np.ndarray | None = None  # (N,) IG: sum(maps) - (value - baseline_value)

    def pixel_maps(self) -> np.ndarray:
        """(N, H, W): the maps summed over channels, for overlays."""
        return self.maps.sum(1)


class _Counted:
    """A forward function that reports how many times it has been called (captum's batching is internal)."""

    def __init__(self, fn: Callable[..., torch.Tensor], total: int, progress: ExplainProgressFn | None) -> None:
        self.fn, self.total, self.progress, self.calls = fn, max(1, total), progress, 0

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        out = self.fn(*args)
        self.calls += 1
        if self.progress is not None:
            self.progress(min(self.calls, self.total), self.total)
        return out


def transform_log_prob(det: GeomDetector, x: torch.Tensor, t_idx: torch.Tensor) -> torch.Tensor:
    """(N,) log p_t(T_t(x_n)) with t = t_idx[n]: how surely the classifier recognises transform t."""
    return det.transform_log_prob(x, t_idx)


def _prepare(det: GeomDetector, images: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = as_model_input(images).detach().to(det.device, torch.float32)
    det.check_shape(x)
    return x


def _attribute(det: GeomDetector, x: torch.Tensor, forward: Callable[..., torch.Tensor], extra: tuple,
               settings: ExplainSettings, per_pass: int, target_name: str,
               progress: ExplainProgressFn | None) -> Attribution:
    """Run one captum method on ``forward(x, *extra) -> (N,)``, ``per_pass`` inputs per forward pass."""
    s = settings
    n = len(x)
    per_pass = max(per_pass, n)  # captum needs a whole batch of inputs per pass
    base_value = BASELINES[s.baseline]
    baseline = torch.full_like(x, base_value)
    extra_args = extra if extra else None
    with torch.no_grad():
        value = forward(x, *extra).float().cpu().numpy()
        baseline_value = forward(baseline, *extra).float().cpu().numpy()
    delta = None
    with torch.enable_grad():
        if s.method == "ig":
            counted = _Counted(forward, math.ceil(s.n_steps / (per_pass // n)) + 2, progress)
            attr, d = IntegratedGradients(counted).attribute(
                x, baselines=baseline, additional_forward_args=extra_args, n_steps=s.n_steps,
                internal_batch_size=per_pass, return_convergence_delta=True)
            delta = d.detach().float().cpu().numpy()
        elif s.method == "saliency":
            counted = _Counted(forward, 1, progress)
            attr = Saliency(counted).attribute(x.clone().requires_grad_(True), abs=True,
                                               additional_forward_args=extra_args)
        else:
            h, w = x.shape[-2:]
            windows = (math.floor((h - s.window) / s.stride) + 1) * (math.floor((w - s.window) / s.stride) + 1)
            per_eval = max(1, per_pass // n)
            counted = _Counted(forward, math.ceil(windows / per_eval) + 1, progress)
            with torch.no_grad():
                attr = Occlusion(counted).attribute(
                    x, sliding_window_shapes=(x.shape[1], s.window, s.window), strides=(x.shape[1], s.stride, s.stride),
                    baselines=base_value, additional_forward_args=extra_args, perturbations_per_eval=per_eval)
    if progress is not None:
        progress(counted.total, counted.total)
    return Attribution(s.method, target_name, attr.detach().float().cpu().numpy(), value, baseline_value, delta)


def explain_score(det: GeomDetector, images: np.ndarray | torch.Tensor, settings: ExplainSettings = ExplainSettings(),
                  progress: ExplainProgressFn | None = None) -> Attribution:
    """Attribution of the normality score (``settings.score``) to the pixels of each image."""
    x = _prepare(det, images)
    method = settings.score
    return _attribute(det, x, lambda inp: normality_score(det, inp, method), (), settings, settings.internal_batch_size,
                      f"{method} score", progress)


def explain_transforms(det: GeomDetector, image: np.ndarray | torch.Tensor, transforms: Sequence[int] | None = None,
                       settings: ExplainSettings = ExplainSettings(),
                       progress: ExplainProgressFn | None = None) -> Attribution:
    """For ONE image, attribution of log p_t(T_t(x)) for each transform t (default: all k).

    Returns maps of shape (len(transforms), C, H, W), row i for transform ``transforms[i]``.
    """
    x = _prepare(det, image)
    if len(x) != 1:
        raise ValueError(f"explain_transforms explains one image at a time, got {len(x)}")
    k = len(det.transforms)
    ts = list(range(k)) if transforms is None else [int(t) for t in transforms]
    bad = [t for t in ts if not 0 <= t < k]
    if bad or not ts:
        raise ValueError(f"transform indices must be in 0..{k - 1}, got {bad or ts}")
    xs = x.expand(len(ts), *x.shape[1:]).contiguous()
    t_idx = torch.tensor(ts, dtype=torch.long, device=x.device)
    names = ", ".join(det.transforms.names[t] for t in ts) if len(ts) <= 3 else f"{len(ts)} transforms"
    per_pass = settings.internal_batch_size * k  # each input is one model image here, not k
    return _attribute(det, xs, lambda inp, t: transform_log_prob(det, inp, t), (t_idx,), settings, per_pass,
                      f"log p(right transform): {names}", progress)
