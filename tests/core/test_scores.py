"""core.scores.RunScores: a run's scores.npz read once, the percentile among normals defined once."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.runs import DamagedRunError, RunInfo
from core.scores import RunScores, dirichlet_scale_note, format_score


def arrays(is_normal: list[int]) -> dict[str, np.ndarray]:
    n = len(is_normal)
    return {"test_index": np.arange(100, 100 + n), "labels": np.array(is_normal) * 3,
            "is_normal": np.array(is_normal, bool), "dirichlet": np.arange(n, dtype=np.float32),
            "mean_softmax_normal": np.eye(n)}


def test_per_image_vectors_are_scores_and_matrices_are_not() -> None:
    s = RunScores.from_arrays(arrays([1, 1, 0]))
    assert list(s.by_method) == ["dirichlet"] and s.score("dirichlet").dtype == np.float64
    assert s.mean_softmax_normal is not None and s.correct_prob is None
    with pytest.raises(ValueError, match="this run has dirichlet"):
        s.score("simple")


def test_percentile_is_the_share_of_normals_at_or_below() -> None:
    s = RunScores.from_arrays(arrays([1, 1, 1, 1, 0]))  # normal scores 0, 1, 2, 3
    assert s.percentile("dirichlet", 1.0) == 50.0
    assert s.percentile("dirichlet", -1.0) == 0.0
    np.testing.assert_array_equal(s.percentile("dirichlet", np.array([0.5, 3.0, 9.0])), [25.0, 100.0, 100.0])


def test_percentile_without_normal_images_is_nan_not_an_error() -> None:
    s = RunScores.from_arrays(arrays([0, 0, 0]))
    assert math.isnan(s.percentile("dirichlet", 1.0))
    assert np.isnan(s.percentile("dirichlet", np.array([1.0, 2.0]))).all()
    assert all(math.isnan(c.percentile) for c in s.worst_cases("dirichlet")["false_positives"])
    with pytest.raises(ValueError, match="no normal test images"):
        s.typical("dirichlet")


def test_ranked_and_position() -> None:
    s = RunScores.from_arrays(arrays([1, 0, 1, 0]))  # scores 0, 1, 2, 3
    assert list(s.ranked("dirichlet")) == [0, 1, 2, 3]
    assert list(s.ranked("dirichlet", normal=False, highest_first=True)) == [3, 1]
    assert s.typical("dirichlet", normal=False) == 103
    assert s.position(102) == 2 and s.position(7) is None


def test_a_saved_run_reads_and_an_incomplete_one_is_damaged(tiny_run: RunInfo, tmp_path) -> None:
    s = RunScores.of(tiny_run)
    assert set(s.by_method) == {"dirichlet", "simple"} and s.correct_prob is not None
    assert len(s.test_index) == len(s.labels) == len(s.is_normal) == tiny_run.meta["n_test"]
    broken = RunInfo(tmp_path, {}, {})
    np.savez(tmp_path / "scores.npz", labels=np.zeros(3))
    with pytest.raises(DamagedRunError, match="lack test_index, is_normal"):
        RunScores.of(broken)


def test_one_score_format_and_the_note_on_the_dirichlet_scale() -> None:
    assert format_score(-3061234.56) == "-3,061,234.6" and format_score(0.81234) == "0.812"
    note = dirichlet_scale_note(np.array([-3.08e6, -3.06e6]))
    assert "-3,080,000.0 to -3,060,000.0" in note and "means nothing on its own" in note and "percentile" in note
