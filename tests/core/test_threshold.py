"""Decisions, PyOD's way (core/threshold.py, BaseDetector.predict, GeomDetector's hold-out): the
threshold's false-positive rate, predict / predict_proba conventions, persistence and refusals."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from core.baselines import RawOCSVMFair
from core.config import preset_config
from core.data import load_dataset
from core.detector import CheckpointError, GeomDetector
from core.runs import RUN_FILE, DamagedRunError, read_run
from core.threshold import (
    THRESHOLD_KEY,
    anomaly_probability,
    check_contamination,
    is_anomaly,
    saved_threshold,
    threshold_at_contamination,
)


# ----- the rule itself ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 15, 20, 200, 1001])
@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.1, 0.5])
def test_share_above_the_threshold_is_within_one_over_n_of_contamination(n, contamination) -> None:
    scores = np.random.default_rng(n).normal(size=n)
    threshold = threshold_at_contamination(scores, contamination)
    assert abs(is_anomaly(scores, threshold).mean() - contamination) <= 1 / n


def test_above_is_anomaly_at_is_normal() -> None:
    assert is_anomaly(np.array([0.9, 1.0, 1.1]), 1.0).tolist() == [False, False, True]


@pytest.mark.parametrize("value", [0, -0.05, 0.5000001, 1, float("nan"), True, "0.1", None])
def test_contamination_outside_its_range_is_refused_naming_the_range(value) -> None:
    with pytest.raises(ValueError, match=r"contamination must be in \(0, 0\.5\], got"):
        check_contamination(value)
    with pytest.raises(ValueError, match=r"\(0, 0\.5\]"):
        threshold_at_contamination(np.arange(10.0), value)


def test_a_threshold_needs_finite_scores() -> None:
    with pytest.raises(ValueError, match="no scores"):
        threshold_at_contamination(np.array([]), 0.1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        threshold_at_contamination(np.array([1.0, np.nan]), 0.1)


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_probabilities_rise_with_the_anomaly_score_within_0_and_1(method) -> None:
    reference = np.random.default_rng(0).normal(size=50)
    s = np.linspace(-5, 5, 101)
    p = anomaly_probability(s, reference, method)
    assert p.min() == 0 and p.max() == pytest.approx(1, abs=1e-6) and (np.diff(p) >= 0).all()
    assert anomaly_probability(np.full(3, 2.0), np.full(4, 2.0), method).shape == (3,)  # a constant reference
    with pytest.raises(ValueError, match="unknown probability method 'softmax'; choose one of linear, unify"):
        anomaly_probability(s, reference, "softmax")


# ----- the hold-out: which images, and refusals for small classes -------------------------------------
def numbered_images(n: int) -> np.ndarray:
    """n images whose pixels all equal their number, so a split can be read back."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 32, 32, 1)).copy()


def image_numbers(x: torch.Tensor) -> list[int]:
    return sorted(round(v) for v in ((x[:, 0, 0, 0] + 1) * 127.5).tolist())


def test_hold_out_is_a_seeded_slice_disjoint_from_training() -> None:
    det = GeomDetector(preset_config("tiny", 32, 1), "cpu")
    train, held = det.split(numbered_images(145))
    assert held is not None and len(held) == round(0.1 * 145) and len(train) == 145 - len(held)
    assert sorted(image_numbers(train) + image_numbers(held)) == list(range(145))
    again = GeomDetector(preset_config("tiny", 32, 1), "cpu").split(numbered_images(145))[1]
    assert image_numbers(again) == image_numbers(held)
    other_seed = GeomDetector(preset_config("tiny", 32, 1, seed=1), "cpu").split(numbered_images(145))[1]
    assert image_numbers(other_seed) != image_numbers(held)


def test_small_classes_hold_out_at_least_one_image_or_are_refused_with_their_size() -> None:
    det = GeomDetector(preset_config("tiny", 32, 1), "cpu")
    train, held = det.split(numbered_images(3))
    assert held is not None and (len(train), len(held)) == (2, 1)
    with pytest.raises(ValueError, match="2 normal training images are too few to hold 1 out"):
        det.split(numbered_images(2))
    held_out_fit = GeomDetector(preset_config("tiny", 32, 1, dirichlet_fit="held_out"), "cpu")
    with pytest.raises(ValueError, match="3 normal training images are too few to hold 2 out"):
        held_out_fit.split(numbered_images(3))
    no_holdout = GeomDetector(preset_config("tiny", 32, 1, holdout_fraction=0.0), "cpu")
    train, held = no_holdout.split(numbered_images(2))
    assert held is None and len(train) == 2
    with pytest.raises(ValueError, match="need at least 2 normal training images, got 1"):
        no_holdout.split(numbered_images(1))


# ----- a trained detector: the tiny digits run -----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_det(tiny_run) -> GeomDetector:
    return GeomDetector.load(tiny_run.model_path, "cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_threshold_flags_about_contamination_of_normal_images(tiny_det, tiny_run) -> None:
    held = tiny_det.decision_scores_
    assert held is not None and tiny_det.threshold_ is not None
    c = tiny_det.config.contamination
    # On the held-out images that set it, the quantile's own arithmetic: within 1/N of contamination.
    assert abs(is_anomaly(held, tiny_det.threshold_).mean() - c) <= 1 / len(held)
    # On normal test images, new to the detector like the held-out ones, the rate scatters around c:
    # the threshold is a quantile of ~15 held-out scores (the exceedance probability of such an order
    # statistic has a standard deviation of about 0.07) and the test set holds ~37 normal images (a
    # binomial standard deviation of about 0.04 at 5%), together about 0.08; c + 0.25 is three of them.
    # An inverted rule or a threshold taken on training images' scores would land far outside.
    scores = tiny_run.scores()
    flagged = is_anomaly(-scores["dirichlet"], tiny_det.threshold_)
    normal = scores["is_normal"]
    assert flagged[normal].mean() <= c + 0.25
    assert flagged[~normal].mean() > 0.5  # and it flags most anomalies, which no part of the fit saw


def test_predict_and_predict_proba_follow_pyod(tiny_det, digits) -> None:
    x = digits.x_test[:40]
    anomaly = tiny_det.decision_function(x)
    labels = tiny_det.predict(x)
    assert labels.shape == (40,) and labels.dtype == np.int64 and set(labels.tolist()) <= {0, 1}
    np.testing.assert_array_equal(labels, (anomaly > tiny_det.threshold_).astype(int))  # 1 = anomaly
    assert labels[digits.y_test[:40] != 3].mean() > labels[digits.y_test[:40] == 3].mean()
    for method in ("linear", "unify"):
        proba = tiny_det.predict_proba(x, method)
        assert proba.shape == (40, 2) and proba.min() >= 0 and proba.max() <= 1
        np.testing.assert_allclose(proba.sum(1), 1)
        order = np.argsort(anomaly)
        assert (np.diff(proba[order, 1]) >= 0).all()  # column 1, the anomaly's, rises with the anomaly score
    with pytest.raises(ValueError, match="unknown probability method"):
        tiny_det.predict_proba(x, "softmax")


def test_threshold_is_saved_in_the_checkpoint_and_the_run_folder(tiny_det, tiny_run, tmp_path) -> None:
    recorded = saved_threshold(tiny_run.meta)
    assert recorded is not None
    assert recorded.anomaly_score == tiny_det.threshold_ and recorded.normality == -tiny_det.threshold_
    assert recorded.held_out_images == len(tiny_det.decision_scores_)
    assert recorded.contamination == tiny_det.config.contamination
    tiny_det.save(tmp_path / "m.pt")
    again = GeomDetector.load(tmp_path / "m.pt", "cpu")
    assert again.threshold_ == tiny_det.threshold_
    np.testing.assert_array_equal(again.decision_scores_, tiny_det.decision_scores_)


def test_the_threshold_comes_from_the_held_out_images_under_either_fit(tiny_det, digits) -> None:
    x_normal = digits.x_train[digits.y_train == 3]
    again = GeomDetector(tiny_det.config, "cpu")
    again.model = tiny_det.model
    again.fit_scoring(*again.split(x_normal))
    assert again.threshold_ == pytest.approx(tiny_det.threshold_, rel=1e-12)  # the run's fit, reproduced
    held_out = GeomDetector(replace(tiny_det.config, dirichlet_fit="held_out"), "cpu")
    held_out.model = tiny_det.model
    train_x, held_x = held_out.split(x_normal)
    held_out.fit_scoring(train_x, held_x)
    assert held_x is not None and len(held_out.decision_scores_) == len(held_x)
    assert not np.allclose(held_out.alphas, tiny_det.alphas)  # fitted on other images
    assert abs(held_out.predict(held_x).mean() - held_out.config.contamination) <= 1 / len(held_x)


def test_old_checkpoints_and_runs_load_without_a_threshold(tiny_run, tmp_path) -> None:
    state = torch.load(tiny_run.model_path, weights_only=True)
    for key in ("threshold", "decision_scores"):
        del state[key]
    for field in ("contamination", "holdout_fraction", "dirichlet_fit"):
        del state["config"][field]
    torch.save(state, tmp_path / "old.pt")
    old = GeomDetector.load(tmp_path / "old.pt", "cpu")
    assert old.threshold_ is None and old.decision_scores_ is None and old.config.holdout_fraction == 0
    x = np.zeros((2, 32, 32, 1), np.uint8)
    assert old.score(x).shape == (2,)  # it scores as before
    with pytest.raises(RuntimeError, match="no saved threshold.*retrain to get one"):
        old.predict(x)
    with pytest.raises(RuntimeError, match="no saved threshold"):
        old.predict_proba(x)
    meta = {k: v for k, v in tiny_run.meta.items() if k != THRESHOLD_KEY}
    assert saved_threshold(meta) is None


def test_damaged_threshold_records_are_refused(tiny_run, tmp_path) -> None:
    state = torch.load(tiny_run.model_path, weights_only=True)
    state["decision_scores"] = None
    torch.save(state, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="threshold .* and held-out scores .* are damaged"):
        GeomDetector.load(tmp_path / "damaged.pt", "cpu")
    for record in ({"anomaly_score": "high", "held_out_images": 3}, {"anomaly_score": 1.0}, [1.0],
                   {"anomaly_score": 1.0, "held_out_images": 0}):
        with pytest.raises(DamagedRunError, match="unusable threshold record"):
            saved_threshold({**tiny_run.meta, THRESHOLD_KEY: record})
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("run.json", "metrics.json", "scores.npz"):
        (folder / name).write_bytes((tiny_run.path / name).read_bytes())
    meta = json.loads((folder / RUN_FILE).read_text())
    assert meta[THRESHOLD_KEY]["anomaly_score"] == pytest.approx(-saved_threshold(meta).normality)
    meta[THRESHOLD_KEY] = {"anomaly_score": None, "held_out_images": 3}
    (folder / RUN_FILE).write_text(json.dumps(meta))
    with pytest.raises(DamagedRunError, match="not a finite number"):
        saved_threshold(read_run(folder).meta)


def test_baselines_have_no_threshold_and_say_so(digits) -> None:
    det = RawOCSVMFair().fit(digits.x_train[digits.y_train == 3])
    assert det.threshold_ is None and det.score(digits.x_test[:3]).shape == (3,)
    with pytest.raises(RuntimeError, match="RAW-OC-SVM.* sets no threshold"):
        det.predict(digits.x_test[:3])
