"""Gradient ascent on the input image to raise GEOM's normality score (the paper's Figure 1).

If a high score really means "looks like the normal class", then pushing an image's pixels uphill
on the score should make it look more like that class. The paper trained on MNIST '3's with a few
transforms, started from a '0', and after 200 steps the '0' had deformed towards a '3'; a '3' start
stayed a '3'.

The score has to be differentiable in the pixels: :meth:`GeomDetector.differentiable_score`
recomputes it in torch (fp32, eval mode) from the softmax of the model on all k transforms of x:

- simplified: mean_t p_t(T_t(x)), the probability of the right transform;
- Dirichlet: sum_t (alpha_t - 1) . log p(T_t(x)).

:mod:`core.explain` differentiates the same score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from core.data import ImageDataset, as_model_input
from core.detector import SCORE_METHODS, GeomDetector
from core.train import ProgressFn

AscentProgressFn = Callable[[int, int, float], None]  # (step, steps, current score of the first image)


def normality_score(det: GeomDetector, x: torch.Tensor, method: str = "simple") -> torch.Tensor:
    """Differentiable GEOM normality score of a float batch (N, C, H, W) in [-1, 1] -> (N,)."""
    return det.differentiable_score(x, method)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflected borders; sigma in pixels (0 = none)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < radius:
        kernel = kernel[radius - pad: radius + pad + 1]
        kernel = kernel / kernel.sum()
    y = F.pad(x, (pad, pad, 0, 0), mode="reflect")
    y = F.conv2d(y, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    y = F.pad(y, (0, 0, pad, pad), mode="reflect")
    return F.conv2d(y, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


@dataclass(frozen=True)
class AscentSettings:
    """The knobs of the optimisation: the paper's 200 steps on the simplified score.

    The defaults were chosen on the Figure 1 preset (MNIST '3', flip x rotations, '0' and '3' starts,
    a digit classifier as the judge): smoothed updates of every pixel moved the '0's towards '3's
    more than keeping only the top 20% of |grad * x| (the authors' setting) or smaller steps did.
    """

    steps: int = 200
    step_size: float = 0.05  # largest change of any pixel per step (pixels live in [-1, 1])
    method: str = "simple"  # score to maximise: simple (the paper) or dirichlet
    keep_top: float | None = 1.0  # update only this fraction of pixels, those with the largest |grad * x| (None/1: all)
    smooth_sigma: float = 1.0  # Gaussian blur (pixels) of each update; 0 = none
    clip: bool = True  # keep pixels in the valid range [-1, 1]
    frame_every: int = 10  # keep a frame every this many steps (plus the first and last)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if not self.step_size > 0:
            raise ValueError(f"step_size must be positive, got {self.step_size}")
        if self.method not in SCORE_METHODS:
            raise ValueError(f"unknown score method {self.method!r}; choose one of {', '.join(SCORE_METHODS)}")
        if self.keep_top is not None and not 0 < self.keep_top <= 1:
            raise ValueError(f"keep_top must be in (0, 1], got {self.keep_top}")
        if self.smooth_sigma < 0:
            raise ValueError(f"smooth_sigma must be >= 0, got {self.smooth_sigma}")
        if self.frame_every < 1:
            raise ValueError(f"frame_every must be at least 1, got {self.frame_every}")


@dataclass
class AscentResult:
    """Frames, score curves and the change, for a batch of N start images."""

    settings: AscentSettings
    frame_steps: list[int]  # the step of each frame (0 = the start image)
    frames: np.ndarray  # (F, N, C, H, W) float32 in model scale
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (steps + 1, N), both scores, every step

    @property
    def start(self) -> np.ndarray:
        return self.frames[0]

    @property
    def final(self) -> np.ndarray:
        return self.frames[-1]

    @property
    def difference(self) -> np.ndarray:
        """final - start, (N, C, H, W): where the optimisation added (positive) or removed ink."""
        return self.final - self.start

    @property
    def scores(self) -> np.ndarray:
        """(steps + 1, N) curve of the score that was maximised."""
        return self.curves[self.settings.method]

    def summary(self) -> dict[str, float]:
        """Scores before/after (first image) and the mean absolute pixel change."""
        out = {}
        for m, c in self.curves.items():
            out[f"{m}_before"] = float(c[0, 0])
            out[f"{m}_after"] = float(c[-1, 0])
        out["mean_abs_change"] = float(np.abs(self.difference[0]).mean())
        return out


def _update_mask(grad: torch.Tensor, x: torch.Tensor, keep_top: float | None) -> torch.Tensor:
    """1 on the top ``keep_top`` fraction of pixels by |grad * x| (per image, channels together)."""
    if keep_top is None or keep_top >= 1:
        return torch.ones_like(grad)
    contrib = (grad * x).abs().sum(1, keepdim=True)  # (N, 1, H, W)
    flat = contrib.flatten(1)
    n_keep = max(1, round(keep_top * flat.shape[1]))
    threshold = flat.topk(n_keep, dim=1).values[:, -1:]
    return (flat >= threshold).view_as(contrib).expand_as(grad).to(grad.dtype)


def gradient_ascent(det: GeomDetector, images: np.ndarray | torch.Tensor, settings: AscentSettings = AscentSettings(),
                    progress: AscentProgressFn | None = None) -> AscentResult:
    """Maximise the normality score of each image by moving its pixels along the score's gradient.

    Each step: gradient g of the score; keep g on the top ``keep_top`` pixels by |g * x|; blur it
    (``smooth_sigma``); scale it so its largest entry is ``step_size``; add it; clip to [-1, 1].
    ``images``: uint8 (N, H, W, C) as datasets give them, or float (N, C, H, W) in [-1, 1].
    """
    x = as_model_input(images).detach().to(det.device, torch.float32).clone()
    want = (det.config.in_channels, det.config.image_size, det.config.image_size)
    if tuple(x.shape[1:]) != want:
        raise ValueError(f"images of shape {tuple(x.shape[1:])} (C, H, W) do not fit this detector, "
                         f"which expects {want}")
    s = settings
    curves = {m: np.zeros((s.steps + 1, len(x)), np.float64) for m in SCORE_METHODS}
    frames, frame_steps = [x.cpu().numpy().copy()], [0]
    for step in range(s.steps + 1):
        x.requires_grad_(True)
        with torch.enable_grad():
            log_p = det.log_softmax_matrix(x)
            values = {m: det.score_log_softmax(log_p, m) for m in SCORE_METHODS}
            grad, = torch.autograd.grad(values[s.method].sum(), x)
        x = x.detach()
        for m, v in values.items():
            curves[m][step] = v.detach().cpu().numpy()
        if progress is not None:
            progress(step, s.steps, float(curves[s.method][step, 0]))
        if step == s.steps:  # the last pass only measures the final image
            break
        update = grad * _update_mask(grad, x, s.keep_top)
        update = gaussian_blur(update, s.smooth_sigma)
        scale = update.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        x = x + s.step_size * update / scale
        if s.clip:
            x = x.clamp(-1.0, 1.0)
        if (step + 1) % s.frame_every == 0 or step + 1 == s.steps:
            frames.append(x.cpu().numpy().copy())
            frame_steps.append(step + 1)
    return AscentResult(s, frame_steps, np.stack(frames).astype(np.float32), curves)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Model-scale (..., C, H, W) in [-1, 1] -> uint8 (..., H, W, C) for display."""
    x = np.asarray(x, dtype=np.float32)
    img = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.moveaxis(img, -3, -1)


# ----- the paper's Figure 1 setting ---------------------------------------------------------------
@dataclass(frozen=True)
class AscentPreset:
    """Train on one MNIST digit with flip x rotations, then start from other digits and from it."""

    dataset: str = "mnist"
    normal: int = 3
    transforms: str = "flip_rot8"  # flip x 4 rotations: 8 transforms, no translation
    starts: tuple[int, ...] = (0, 3)  # classes to start the ascent from
    steps: int = 600  # training steps of the classifier
    batch_size: int = 64
    network: str = "wrn"  # WRN-10-1: the setting measured in the README (the ablations default to a small CNN)


PAPER_ASCENT = AscentPreset()


def train_preset_detector(preset: AscentPreset = PAPER_ASCENT, data_dir: str | None = None, device: str = "auto",
                          progress: ProgressFn | None = None, seed: int = 0) -> GeomDetector:
    """The classifier of the paper's Figure 1: digit 3, flip x rotations (via core.ablation's trainer)."""
    from core.ablation import AblationSpec, ablation_data, train_ablation

    other = next(c for c in range(10) if c != preset.normal)
    spec = AblationSpec(dataset=preset.dataset, normal=preset.normal, anomaly=other, transforms=preset.transforms,
                        steps=preset.steps, batch_size=preset.batch_size, network=preset.network)
    return train_ablation(spec, seed, ablation_data(spec, data_dir), device, progress)


def start_images(data: ImageDataset, cls: int, n: int = 1, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test images of class ``cls`` (after ``offset``): (dataset test indices, uint8 images)."""
    members = np.flatnonzero(data.y_test == cls)[offset:offset + n]
    if len(members) == 0:
        raise ValueError(f"no test images of class {cls} at offset {offset}")
    return members, data.x_test[members]
