"""ONNX export of a GEOM detector: one graph from raw pixels to the normality score, and its parity check.

The graph takes images as the dataset loaders hold them (core.data: uint8, N x H x W x C, the batch
size free) and returns the normality score (N,), higher = more normal. Every step in it is the
detector's own code, traced: :func:`core.data.scale_pixels`, :meth:`TransformSet.apply_all`, the
BN-folded network (:meth:`GeomDetector.inference_model`, fp32), a log-softmax, and
:meth:`GeomDetector.score_log_softmax` (Dirichlet or simplified), so the graph cannot drift from
what ``GeomDetector.score`` computes.

Precision: the network runs in fp32; the log-softmax, the score and the output are float64.
- The log step is a log-softmax (logits minus their logsumexp), which never underflows whatever the
  classifier's margins. Softmax then log in fp32 would give 0 to every probability below fp32's
  range (margins beyond about 100) and tie a confident classifier's images, the failure the
  detector's float64 softmax was introduced for (README, "Scores of a confident classifier"). In
  float64 the log-softmax equals the detector's clipped float64 softmax wherever that one clips
  nothing, so the two paths differ only by the network's own rounding.
- The sum: a Dirichlet score adds k x k log-probabilities weighted by alphas from hundreds (a
  weak classifier) to many millions (the right transform of a confident one), so it can lie
  millions from zero while images differ by tens; float32's spacing there ties images and moves
  the AUROC. And a log-softmax in fp32 rounds the right transform's tiny log-probability by about
  1e-7 of the logits' size, which those large alphas magnify past the gaps between images. README
  "Export" gives the measured figures.
ONNX Runtime's CPU provider runs these float64 operators (the parity check exercises them).

Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export, then onnxscript). The TorchScript
exporter (``dynamo=False``) gave the same scores but warns that it will be removed from torch.

The ONNX packages (requirements-export.txt) are imported only inside the functions that need them,
so this module, and ``python -m core --help``, work without them.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import kendalltau, spearmanr

from core.data import DataError, load_dataset, scale_pixels
from core.data.dataset import short_error
from core.detector import SCORE_METHODS, GeomDetector
from core.experiment import test_subset
from core.metrics import detection_metrics, has_both_groups

if TYPE_CHECKING:
    from core.runs import RunInfo

EXPORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
"""What the export imports; requirements-export.txt pins them (tests check the two agree)."""
EXPORT_FORMATS = ("onnx",)
"""What ``python -m core export --format`` writes."""
INPUT_NAME, OUTPUT_NAME = "images", "score"
SCORE_TOLERANCE = 1e-5
"""Parity: largest |ONNX - PyTorch| allowed, as a share of the range of the PyTorch scores (the
spread that ranks the images), so one rule fits Dirichlet scores millions from zero and
probabilities in [0, 1]."""
AUROC_DECIMALS = 4
"""Parity: the two AUROCs must agree to this many decimals."""


class MissingPackageError(ImportError):
    """The ONNX packages are not installed; the message says how to install them."""


def require_export_packages() -> None:
    """Import the ONNX packages, or raise one MissingPackageError naming the missing ones and the fix."""
    missing = []
    for name in EXPORT_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingPackageError(f"ONNX export needs {', '.join(EXPORT_PACKAGES)} (missing: {', '.join(missing)}); "
                                  "install them with: pip install -r requirements-export.txt")


class ScoreGraph(torch.nn.Module):
    """uint8 images (N, H, W, C) -> float64 normality score (N,): what the exported graph computes."""

    def __init__(self, detector: GeomDetector, method: str = "dirichlet") -> None:
        super().__init__()
        if method not in SCORE_METHODS:
            raise ValueError(f"unknown score method {method!r}; choose one of {', '.join(SCORE_METHODS)}")
        detector.require_fitted()
        self.detector, self.method = detector, method
        # A copy on the CPU: exporting never moves or alters the network the detector scores with.
        self.network = copy.deepcopy(detector.inference_model()).cpu().eval()
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = scale_pixels(images.permute(0, 3, 1, 2))
        n, k = x.shape[0], len(self.detector.transforms)
        logits = self.network(self.detector.transforms.apply_all(x))
        log_p = F.log_softmax(logits.double(), dim=1).view(n, k, k)
        return self.detector.score_log_softmax(log_p, self.method)


def export_onnx(detector: GeomDetector, path: str | os.PathLike, method: str = "dirichlet") -> Path:
    """Write the detector's score graph to ``path`` as one self-contained .onnx file (weights inside).

    The file appears whole or not at all (written beside it, then renamed); a missing folder is
    created (one that cannot be is a ValueError saying why). The exporter's progress lines are kept
    off stdout, which the CLI keeps for its report.
    """
    require_export_packages()
    path = Path(path)
    graph = ScoreGraph(detector, method)
    c, h, w = detector.input_shape
    example = torch.zeros((2, h, w, c), dtype=torch.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: its folder cannot be created ({short_error(exc)})") from exc
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"cannot write {path}: {path.parent} is not writable")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with torch.no_grad():
            # Once eagerly first: that fills the transforms' cached index maps with real tensors. Traced
            # first, the exporter's fake tensors would land in that cache and break later scoring.
            graph(example)
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            torch.onnx.export(graph, (example,), tmp, dynamo=True, external_data=False, verbose=False,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_shapes={INPUT_NAME: {0: torch.export.Dim("batch")}})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def onnx_session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An onnxruntime CPU session on an exported graph; ``threads`` caps its intra-op threads
    (default: onnxruntime's own choice)."""
    require_export_packages()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_scores(session: Any, images: np.ndarray, batch: int) -> np.ndarray:
    """The graph's scores of uint8 images (N, H, W, C), ``batch`` images per call."""
    parts = [session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(images[i:i + batch])})[0]
             for i in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class ParityImages:
    """The images a parity check scores, and whether each is of the run's normal class (None: unknown)."""

    images: np.ndarray  # uint8 (N, H, W, C)
    is_normal: np.ndarray | None
    source: str  # said in the report: which images these are


def parity_images(run: RunInfo, detector: GeomDetector, limit: int, data_dir: str | None = None) -> ParityImages:
    """Up to ``limit`` test images of the run's dataset (class-stratified, as runs subsample), else
    ``limit`` random uint8 images, saying why. Run folders keep test indices, not pixels, so the
    dataset is the only source of real images."""
    meta = run.meta
    c, h, w = detector.input_shape
    try:
        data = load_dataset(meta["dataset"], data_dir, download=False)
    except DataError as exc:
        reason = str(exc).splitlines()[0]
        images = np.random.default_rng(0).integers(0, 256, (limit, h, w, c), dtype=np.uint8)
        return ParityImages(images, None, f"{limit} random uint8 images ({meta['dataset']} is not available here: "
                                          f"{reason})")
    if data.x_test.shape[1:] != (h, w, c):
        raise ValueError(f"{data.name}'s images are {data.x_test.shape[1:]} (H, W, C) here, but the run's model takes "
                         f"{(h, w, c)}")
    index = test_subset(data.y_test, limit, int(meta["seed"]))
    is_normal = data.y_test[index] == int(meta["normal_class"])
    return ParityImages(data.x_test[index], is_normal if has_both_groups(is_normal) else None,
                        f"{len(index)} of the {len(data.y_test)} {data.name} test images"
                        + ("" if has_both_groups(is_normal) else " (one class only: no AUROC)"))


@dataclass(frozen=True)
class ParityReport:
    """ONNX Runtime against PyTorch (the detector's own ``score``, fp32) on the same images."""

    method: str
    source: str
    n_images: int
    max_abs_diff: float  # largest |ONNX - PyTorch| score difference
    max_diff_of_range: float  # the same, as a share of the range of the PyTorch scores
    same_order: bool  # identical argsort
    kendall: float
    spearman: float
    auroc_torch: float | None  # None without both normal and anomalous images
    auroc_onnx: float | None

    @property
    def ranking_kept(self) -> bool:
        """AUROCs equal to AUROC_DECIMALS decimals where labels exist, else the same order."""
        if self.auroc_torch is not None and self.auroc_onnx is not None:
            return round(self.auroc_torch, AUROC_DECIMALS) == round(self.auroc_onnx, AUROC_DECIMALS)
        return self.same_order

    @property
    def passed(self) -> bool:
        return self.ranking_kept and self.max_diff_of_range <= SCORE_TOLERANCE

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "tolerance_of_range": SCORE_TOLERANCE, "ranking_kept": self.ranking_kept,
                "passed": self.passed}


def check_parity(session: Any, detector: GeomDetector, sample: ParityImages, method: str = "dirichlet") -> ParityReport:
    """Score ``sample`` with the exported graph and with ``detector.score`` and compare.

    Pass a detector loaded with ``precision="fp32"``: the graph's network is fp32, and a bf16
    reference would measure bf16's rounding, not the export.
    """
    if len(sample.images) < 2:
        raise ValueError("a parity check needs at least 2 images to compare rankings")
    ours = onnx_scores(session, sample.images, detector.score_batch).astype(np.float64)
    ref = detector.score(sample.images, method)
    diff = np.abs(ours - ref)
    spread = float(np.ptp(ref))
    aurocs: tuple[float | None, float | None] = (None, None)
    if sample.is_normal is not None:
        aurocs = (detection_metrics(sample.is_normal, ref)["auroc"], detection_metrics(sample.is_normal, ours)["auroc"])
    return ParityReport(
        method=method, source=sample.source, n_images=len(ref), max_abs_diff=float(diff.max()),
        max_diff_of_range=float(diff.max() / spread) if spread > 0 else float(diff.max() > 0),
        same_order=bool(np.array_equal(np.argsort(ref, kind="stable"), np.argsort(ours, kind="stable"))),
        kendall=float(kendalltau(ref, ours).statistic), spearman=float(spearmanr(ref, ours).statistic),
        auroc_torch=aurocs[0], auroc_onnx=aurocs[1],
    )
