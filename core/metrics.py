"""Detection metrics of the paper's protocol: normal is the positive class for AUROC and AUPR-in.

Scores follow GEOM's convention, higher = more normal. AUPR-out treats anomalies as positive, so it
ranks by the negated score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

NO_ANOMALIES = "no anomalies in the test data: AUROC not computed"


def has_both_groups(is_normal: np.ndarray) -> bool:
    """True when the evaluation set holds normal and anomalous images, as AUROC and AUPR need.

    A normal-only dataset (a folder of good parts) trains a detector but cannot be evaluated.
    """
    y = np.asarray(is_normal).astype(bool)
    return bool(y.any() and not y.all())


def _check(is_normal: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(is_normal).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if y.all() or not y.any():
        raise ValueError("AUROC needs both normal and anomalous images in the evaluation set")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity")
    return y, s


def detection_metrics(is_normal: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPR-in and AUPR-out as fractions in [0, 1]."""
    y, s = _check(is_normal, scores)
    return {
        "auroc": float(roc_auc_score(y, s)),
        "aupr_in": float(average_precision_score(y, s)),
        "aupr_out": float(average_precision_score(~y, -s)),
    }


@dataclass(frozen=True)
class Curves:
    """ROC (fpr, tpr, thresholds) and PR-in (precision, recall, thresholds) curves."""

    fpr: np.ndarray
    tpr: np.ndarray
    roc_thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    pr_thresholds: np.ndarray


def detection_curves(is_normal: np.ndarray, scores: np.ndarray) -> Curves:
    """The curves behind AUROC and AUPR-in, normal = positive."""
    y, s = _check(is_normal, scores)
    fpr, tpr, roc_t = roc_curve(y, s)
    precision, recall, pr_t = precision_recall_curve(y, s)
    return Curves(fpr, tpr, roc_t, precision, recall, pr_t)


def rates_at_threshold(is_normal: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """TPR / FPR when images scoring >= threshold are called normal."""
    y, s = _check(is_normal, scores)
    called_normal = s >= threshold
    return {
        "tpr": float(called_normal[y].mean()),
        "fpr": float(called_normal[~y].mean()),
    }


def threshold_at_tpr(is_normal: np.ndarray, scores: np.ndarray, tpr: float = 0.95) -> float:
    """The highest threshold that still calls at least ``tpr`` of the normal images normal.

    Images scoring >= the threshold are called normal (as in rates_at_threshold), so this is
    the usual "operating point at 95% TPR" used to pick a default threshold.
    """
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr}")
    normal = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(is_normal, bool)])[::-1]
    if normal.size == 0:
        raise ValueError("no normal images to set a threshold on")
    return float(normal[math.ceil(tpr * normal.size) - 1])


def fpr_at_tpr(is_normal: np.ndarray, scores: np.ndarray, tpr: float = 0.95) -> float:
    """The share of anomalies called normal at :func:`threshold_at_tpr`'s threshold: ODIN's "FPR at 95%
    TPR", which it tuned its settings by (lower is better)."""
    return rates_at_threshold(is_normal, scores, threshold_at_tpr(is_normal, scores, tpr))["fpr"]


def auroc_per_class(labels: np.ndarray, is_normal: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    """AUROC of the normal images against each anomalous class alone, keyed by class id.

    A low value names a class the model confuses with the normal one; the overall AUROC is a mix
    of these weighted by class size. Classes with no anomalous test image are left out.
    """
    labels = np.asarray(labels)
    normal = np.asarray(is_normal, bool)
    scores = np.asarray(scores, dtype=np.float64)
    out: dict[int, float] = {}
    for c in np.unique(labels[~normal]):
        keep = normal | (labels == c)
        out[int(c)] = detection_metrics(normal[keep], scores[keep])["auroc"]
    return out


def mean_sem(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the mean (ddof=1); SEM is 0 for a single run."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_sem of no values")
    sem = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), sem


def mean_sem_text(values: list[float] | np.ndarray) -> str:
    """Mean and SEM over runs for people, ``0.712 ± 0.010``; one run is its value alone (``0.712``), as
    its SEM of 0 would claim a spread nobody measured."""
    mean, sem = mean_sem(values)
    return f"{mean:.3f} ± {sem:.3f}" if len(values) > 1 else f"{mean:.3f}"
