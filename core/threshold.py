"""Decisions from scores, PyOD's way: a threshold on the anomaly score, set at fit on normal images.

PyOD puts a detector's ``threshold_`` at the (1 - contamination) quantile of the anomaly scores of
its training data, and calls an image an anomaly (1) when its anomaly score is above it, normal (0)
otherwise. GEOM does the same on normal training images it held out of the classifier's training
(``GeomConfig.holdout_fraction``): a classifier may recognise the transforms of images it trained
on better than those of new ones, and a quantile of such scores would then flag more than
``contamination`` of new normal images. The held-out images are new to it, so their quantile flags
about ``contamination`` of new normal images whatever that gap, up to the quantile's sampling error
(a few held-out images give a coarse threshold; run.json records how many set it).

Conventions: anomaly score = ``decision_function``, higher = more anomalous. On GEOM's normality
score (higher = more normal) the same threshold reads "normal at or above ``-threshold``", which is
how the explorer's sliders put it (:attr:`SavedThreshold.normality`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from core.runs import RUN_FILE, DamagedRunError

MAX_CONTAMINATION = 0.5  # PyOD's bound: beyond half, "anomalies" are the majority and the quantile means nothing
PROBA_METHODS = ("linear", "unify")
NO_THRESHOLD = "this run has no saved threshold: retrain to get one"
THRESHOLD_KEY = "threshold"  # run.json's record of a saved threshold (absent in runs made before thresholds)


def check_contamination(value: object) -> float:
    """``value`` as a float in (0, 0.5], or a ValueError naming the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= MAX_CONTAMINATION:
        raise ValueError(f"contamination must be in (0, {MAX_CONTAMINATION}], got {value!r}")
    return float(value)


def threshold_at_contamination(anomaly_scores: np.ndarray, contamination: float) -> float:
    """The (1 - contamination) quantile of ``anomaly_scores`` (numpy's linear interpolation, as PyOD).

    The share of these N scores above it is within 1/N of ``contamination`` (ties can only lower it).
    """
    scores = np.asarray(anomaly_scores, np.float64).ravel()
    if scores.size == 0:
        raise ValueError("no scores to set a threshold on")
    if not np.isfinite(scores).all():
        raise ValueError("the scores that set a threshold contain NaN or infinity")
    return float(np.percentile(scores, 100 * (1 - check_contamination(contamination))))


def is_anomaly(anomaly_scores: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) bool: above the threshold is an anomaly, at or below it normal (PyOD's ``>``)."""
    return np.asarray(anomaly_scores, np.float64) > threshold


def anomaly_probability(anomaly_scores: np.ndarray, reference: np.ndarray, method: str = "linear") -> np.ndarray:
    """(N,) PyOD's ``predict_proba`` outlier column: the scores rescaled to [0, 1] against ``reference``.

    ``linear``: min-max scaling by the reference scores (PyOD's default); ``unify``: Kriegel et al.'s
    Gaussian scaling, erf((s - mean) / (std sqrt 2)) clipped at 0, which assumes the reference scores
    are roughly Gaussian. Either is a rescaled score, not a calibrated probability of being an
    anomaly: the reference holds normal images only, and no anomaly was seen to calibrate against.
    """
    check_proba_method(method)
    s = np.asarray(anomaly_scores, np.float64)
    ref = np.asarray(reference, np.float64)
    if ref.size == 0:
        raise ValueError("no reference scores to rescale against")
    if method == "linear":
        span = ref.max() - ref.min()
        return np.clip((s - ref.min()) / (span if span > 0 else 1.0), 0.0, 1.0)
    std = ref.std()  # unify
    return np.clip(erf((s - ref.mean()) / ((std if std > 0 else 1.0) * math.sqrt(2))), 0.0, 1.0)


def check_proba_method(method: str) -> None:
    """Refuse an unknown ``predict_proba`` method before anything is scored."""
    if method not in PROBA_METHODS:
        raise ValueError(f"unknown probability method {method!r}; choose one of {', '.join(PROBA_METHODS)}")


@dataclass(frozen=True)
class SavedThreshold:
    """A run's decision threshold as run.json records it, for readers that do not load the model."""

    anomaly_score: float  # the threshold on the anomaly score: above it = anomaly
    held_out_images: int  # how many held-out normal training images set it
    contamination: float  # the share of them it flags (from the run's config)

    @property
    def normality(self) -> float:
        """The same threshold on the normality score: at or above it = normal."""
        return -self.anomaly_score

    def record(self) -> dict[str, Any]:
        """What run.json keeps under THRESHOLD_KEY (contamination lives in the run's config)."""
        return {"anomaly_score": self.anomaly_score, "held_out_images": self.held_out_images}


def saved_threshold(meta: dict[str, Any]) -> SavedThreshold | None:
    """The threshold a run.json records, or None for a run without one (older runs, baselines);
    DamagedRunError when the record is there but unusable."""
    record = meta.get(THRESHOLD_KEY)
    if record is None:
        return None
    try:
        value, n = record["anomaly_score"], record["held_out_images"]
        contamination = check_contamination(meta["config"]["contamination"])
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"threshold {value!r} is not a finite number")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"held_out_images {n!r} is not a count of 1 or more")
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedRunError(f"{RUN_FILE} has an unusable {THRESHOLD_KEY} record ({type(exc).__name__}: {exc})") \
            from exc
    return SavedThreshold(float(value), int(n), contamination)
