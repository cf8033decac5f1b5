"""A run's per-test-image scores (its scores.npz) as one object, so every reader answers alike.

Pages, the notebook and core.explain all ask a run's scores the same few questions: which images
are normal, what a method scored them, where a score ranks among the normal test images, which
images are the detector's worst mistakes and which one is typical. Answered here once, the answers
agree everywhere, and the percentile stays defined (NaN) for a run without normal test images.
Scores follow GEOM's convention: higher = more normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import overload

import numpy as np

from core.runs import SCORES_FILE, DamagedRunError, RunInfo

_PER_IMAGE = ("test_index", "labels", "is_normal")
_GEOM_EXTRAS = ("correct_prob", "mean_softmax_normal", "mean_softmax_anomalous")


def format_score(score: float) -> str:
    """A score for people to read: Dirichlet scores run to millions and differ in the units, simplified
    ones live in [0, 1]."""
    return f"{score:,.1f}" if abs(score) >= 100 else f"{score:.3f}"


def dirichlet_scale_note(scores: np.ndarray) -> str:
    """What the size of a Dirichlet score means (nothing on its own), said alike wherever one is shown;
    ``scores`` are the run's, whose range the note quotes."""
    s = np.asarray(scores, np.float64)
    return (f"Dirichlet scores are log-likelihoods summed over every transform; their size (here "
            f"{format_score(float(s.min()))} to {format_score(float(s.max()))}) depends on the model and means "
            "nothing on its own. What counts is the order: an image's percentile among the normal test images.")


@dataclass(frozen=True)
class Case:
    """One scored test image with its score and where it ranks."""

    test_index: int  # index into the dataset's test set
    label: int  # its class
    score: float
    percentile: float  # share of normal test images scoring at or below it, in %


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: two objects are equal only if the same
class RunScores:
    """The scored test images of one run, position i in every array being the same image."""

    test_index: np.ndarray  # (N,) index of each scored image in the dataset's test set
    labels: np.ndarray  # (N,) its class
    is_normal: np.ndarray  # (N,) bool: of the run's normal class
    by_method: Mapping[str, np.ndarray]  # score method -> (N,) float64 normality score
    correct_prob: np.ndarray | None = None  # GEOM: (N, k) p(right transform) under each transform
    mean_softmax_normal: np.ndarray | None = None  # GEOM: (k, k) mean softmax matrix of the normal images
    mean_softmax_anomalous: np.ndarray | None = None  # GEOM: (k, k) the same over the anomalies

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RunScores:
        """From scores.npz's arrays. Any further vector of one value per image is a score, named by its
        key, so GEOM runs (dirichlet, simple) and baselines (score) read alike."""
        missing = [k for k in _PER_IMAGE if k not in arrays]
        if missing:
            raise ValueError(f"the scores lack {', '.join(missing)}")
        n = len(arrays["test_index"])
        by_method = {k: np.asarray(v, np.float64) for k, v in arrays.items()
                     if k not in _PER_IMAGE + _GEOM_EXTRAS and np.ndim(v) == 1 and len(v) == n}
        return cls(np.asarray(arrays["test_index"]), np.asarray(arrays["labels"]),
                   np.asarray(arrays["is_normal"], bool), by_method, **{k: arrays.get(k) for k in _GEOM_EXTRAS})

    @classmethod
    def of(cls, run: RunInfo) -> RunScores:
        """The scores a run saved; DamagedRunError when its scores.npz is damaged or incomplete."""
        arrays = run.scores()
        try:
            return cls.from_arrays(arrays)
        except ValueError as exc:
            raise DamagedRunError(f"{run.path / SCORES_FILE} is damaged ({exc}); train the run again") from exc

    def score(self, method: str) -> np.ndarray:
        """(N,) the ``method`` score of every image; ValueError naming the run's methods if it has none."""
        try:
            return self.by_method[method]
        except KeyError:
            raise ValueError(f"unknown score method {method!r}; this run has {', '.join(self.by_method)}") from None

    @overload
    def percentile(self, method: str, values: float) -> float: ...

    @overload
    def percentile(self, method: str, values: np.ndarray) -> np.ndarray: ...

    def percentile(self, method: str, values: float | np.ndarray) -> float | np.ndarray:
        """Share of the normal test images whose ``method`` score is at or below each value, in %.

        A score's size means little (Dirichlet scores depend on the model); its rank among normal
        images is what a reader can compare across runs. NaN when the run has no normal test image.
        """
        normal = np.sort(self.score(method)[self.is_normal])
        if normal.size == 0:
            pct = np.full(np.shape(values), np.nan)
        else:
            pct = 100 * np.searchsorted(normal, values, side="right") / normal.size
        return pct if np.ndim(values) else float(pct)

    def ranked(self, method: str, normal: bool | None = None, highest_first: bool = False) -> np.ndarray:
        """Positions in these arrays ordered by ``method`` score, of the normal images, the anomalies or
        all (None). Ties keep test-set order, so a page shows the same images on every rerun."""
        group = np.arange(len(self.is_normal)) if normal is None else np.flatnonzero(self.is_normal == normal)
        s = self.score(method)[group]
        return group[np.argsort(-s if highest_first else s, kind="stable")]

    def position(self, test_index: int) -> int | None:
        """Where dataset test image ``test_index`` sits in these arrays; None if the run did not score it."""
        hits = np.flatnonzero(self.test_index == test_index)
        return int(hits[0]) if hits.size else None

    def cases(self, method: str, positions: np.ndarray | list[int]) -> list[Case]:
        """The images at ``positions`` with their ``method`` score and percentile among normals."""
        pos = np.asarray(positions, dtype=np.int64)
        s = self.score(method)[pos]
        return [Case(int(self.test_index[p]), int(self.labels[p]), float(v), float(q))
                for p, v, q in zip(pos, s, self.percentile(method, s), strict=True)]

    def typical(self, method: str = "dirichlet", normal: bool = True) -> int:
        """Dataset test index of the normal image (or anomaly) with the median score: a typical one."""
        order = self.ranked(method, normal)
        if len(order) == 0:
            raise ValueError(f"the run has no {'normal' if normal else 'anomalous'} test images")
        return int(self.test_index[order[len(order) // 2]])

    def worst_cases(self, method: str = "dirichlet", n: int = 4) -> dict[str, list[Case]]:
        """The run's worst mistakes (normal = positive): ``false_positives`` are the anomalies with the
        highest scores, ``false_negatives`` the normal images with the lowest."""
        return {"false_positives": self.cases(method, self.ranked(method, False, highest_first=True)[:n]),
                "false_negatives": self.cases(method, self.ranked(method, True)[:n])}
