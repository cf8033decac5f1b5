"""The paper's baselines: the interface they share with GeomDetector, their recipes, and that each
one detects an easy anomaly (MNIST 0 vs 1 on real data, the offline digits otherwise). DSEBM's and
DAGMM's own pieces (energy, mixture) are in test_energy_baselines.py, ADGAN's (the latent search) in
test_adgan.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.svm import OneClassSVM

from core.baselines import (
    ALIASES,
    METHODS,
    SCORE_KEY,
    BaselineFitError,
    get_method,
    load_baseline,
    parse_methods,
    run_baseline,
)
from core.baselines.cae import ConvAutoencoder
from core.baselines.deep_svdd import DeepSVDD, SVDDNet
from core.baselines.ocsvm import (
    PAPER_GAMMAS,
    PAPER_NUS,
    RawOCSVMFair,
    RawOCSVMHindsight,
    fit_rbf,
    hindsight_grid,
    scale_gamma,
    squared_distances,
)
from core.config import BASELINE_BUDGET_OF, PRESETS
from core.data import load_dataset
from core.detector import CheckpointError
from core.metrics import detection_metrics
from core.paper_tables import paper_value

# Small settings so every method fits in seconds on a busy 2-core CPU.
FAST = {
    "raw-ocsvm-hindsight": {},
    "raw-ocsvm-fair": {},
    "cae-ocsvm-hindsight": {"epochs": 2},  # both CAE modes share one autoencoder (core.baselines.cae memo)
    "cae-ocsvm-fair": {"epochs": 2},
    "deep-svdd": {"epochs": 5, "pretrain_epochs": 1, "lr": 1e-3, "lr_milestone": 0, "batch_size": 64},
    "dsebm": {"batch_size": 64},
    "dagmm": {"epochs": 5, "batch_size": 32},  # DAGMM needs steps: 64 a batch left MNIST 0 vs 1 at 0.68
    "adgan": {},  # its tiny budget: 60 generator updates of 16, one start searched for 2 steps
}


def fit(method: str, x_normal: np.ndarray, x_test: np.ndarray, is_normal: np.ndarray, **overrides):
    cls = METHODS[method]
    det = cls(cls.preset_config("tiny", **{**FAST[method], **overrides}), "cpu")
    if cls.needs_selection:
        return det.fit(x_normal, x_test, is_normal)
    return det.fit(x_normal)


@pytest.fixture(scope="module")
def digits_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offline: digits 0 (normal, train) vs test 0s and 1s."""
    d = load_dataset("digits")
    keep = np.isin(d.y_test, [0, 1])
    return d.x_train[d.y_train == 0], d.x_test[keep], d.y_test[keep] == 0


@pytest.fixture(scope="module")
def mnist_pair(real_dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real MNIST: 300 training 0s; 150 test 0s and 150 test 1s."""
    d = real_dataset("mnist")
    x_test = np.concatenate([d.x_test[d.y_test == 0][:150], d.x_test[d.y_test == 1][:150]])
    return d.x_train[d.y_train == 0][:300], x_test, np.repeat([True, False], 150)


@pytest.mark.parametrize("method", list(METHODS))
def test_each_baseline_beats_chance_on_digits(method: str, digits_pair) -> None:
    x_normal, x_test, is_normal = digits_pair
    det = fit(method, x_normal, x_test, is_normal)
    score = det.score(x_test)
    assert score.shape == (len(x_test),) and np.isfinite(score).all()
    np.testing.assert_allclose(det.decision_function(x_test), -score)
    assert detection_metrics(is_normal, score)["auroc"] > 0.8, method


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
def test_each_baseline_beats_chance_on_mnist_0_vs_1(method: str, mnist_pair) -> None:
    x_normal, x_test, is_normal = mnist_pair
    score = fit(method, x_normal, x_test, is_normal).score(x_test)
    assert detection_metrics(is_normal, score)["auroc"] > 0.8, method


# ----- the OC-SVM -----------------------------------------------------------------------------------
def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(200, 20)).astype(np.float32), (1.3 * rng.normal(size=(150, 20))).astype(np.float32)


def test_squared_distances_match_numpy() -> None:
    a, b = _blobs()
    ref = ((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(a, b), ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("gamma,nu", [(0.02, 0.1), (0.1, 0.5), (1.0, 0.9)])
def test_precomputed_rbf_equals_sklearn_rbf(gamma: float, nu: float) -> None:
    """The grid's precomputed-kernel SVM is scikit-learn's RBF OneClassSVM with the same gamma."""
    x, t = _blobs()
    ref = OneClassSVM(kernel="rbf", gamma=gamma, nu=nu).fit(x).decision_function(t)
    np.testing.assert_allclose(fit_rbf(x, gamma, nu).decision(t), ref, atol=1e-4)


def test_scale_gamma_is_sklearns() -> None:
    x, _ = _blobs()
    assert scale_gamma(x) == pytest.approx(OneClassSVM(gamma="scale").fit(x)._gamma)


def test_hindsight_grid_is_the_papers_and_keeps_the_best() -> None:
    assert PAPER_NUS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert PAPER_GAMMAS == tuple(2.0 ** e for e in range(-7, 3))
    x, t = _blobs()
    labels = np.r_[np.ones(75, bool), np.zeros(75, bool)]
    t[:75] = _blobs(1)[0][:75]  # half the selection set drawn like the training set
    model, grid = hindsight_grid(x, t, labels, nus=(0.1, 0.5), gammas=(0.01, 0.05, 0.2))
    assert grid.shape == (3, 2)
    gi, ni = np.unravel_index(np.argmax(grid), grid.shape)
    assert (model.gamma, model.nu) == ((0.01, 0.05, 0.2)[gi], (0.1, 0.5)[ni])
    assert detection_metrics(labels, model.decision(t))["auroc"] == pytest.approx(grid.max(), abs=1e-6)


def test_hindsight_needs_labelled_selection_and_fair_does_not(digits_pair) -> None:
    x_normal, x_test, is_normal = digits_pair
    with pytest.raises(BaselineFitError, match="hindsight"):
        RawOCSVMHindsight(device="cpu").fit(x_normal)
    with pytest.raises(BaselineFitError, match="both normal and anomalous"):
        RawOCSVMHindsight(device="cpu").fit(x_normal, x_test, np.ones(len(x_test), bool))
    fair = RawOCSVMFair(device="cpu").fit(x_normal)
    assert fair.fit_info["nu"] == 0.1
    expected_gamma = scale_gamma(x_normal.reshape(len(x_normal), -1) / 127.5 - 1)
    assert fair.fit_info["gamma"] == pytest.approx(expected_gamma, rel=1e-4)
    hind = RawOCSVMHindsight(device="cpu").fit(x_normal, x_test, is_normal)
    assert np.asarray(hind.fit_info["grid_auroc"]).shape == (10, 9)
    assert "hindsight" in hind.fit_info["selection"]


def test_training_set_is_capped_reproducibly(digits_pair) -> None:
    x_normal = digits_pair[0]
    cfg = replace(RawOCSVMFair.preset_config("quick"), max_train_images=50)
    a = RawOCSVMFair(cfg, "cpu").fit(x_normal)
    b = RawOCSVMFair(cfg, "cpu").fit(x_normal)
    assert a.fit_info["n_train_used"] == 50
    np.testing.assert_array_equal(a.svm.support, b.svm.support)


# ----- Deep SVDD ------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
def test_deep_svdd_network_has_no_bias(channels: int) -> None:
    net = SVDDNet(channels, 32)
    assert not [n for n, _ in net.named_parameters() if "bias" in n]
    assert net(torch.zeros(2, channels, 32, 32)).shape == (2, 32 if channels == 1 else 128)


def test_deep_svdd_centre_and_soft_boundary(digits_pair) -> None:
    x_normal, x_test, is_normal = digits_pair
    det = fit("deep-svdd", x_normal, x_test, is_normal, objective="soft-boundary", warm_up_epochs=2)
    assert (det.c.abs() >= det.config.eps - 1e-7).all()  # no coordinate left near 0
    assert det.R > 0
    dist = det.distances(torch.from_numpy(x_test.transpose(0, 3, 1, 2) / 127.5 - 1).float())
    np.testing.assert_allclose(det.score(x_test), det.R ** 2 - dist, atol=1e-5)
    with pytest.raises(ValueError, match="objective"):
        DeepSVDD(replace(DeepSVDD.preset_config("tiny"), objective="hard"))


def test_autoencoder_shapes() -> None:
    for side, ch in ((32, 1), (32, 3), (64, 3)):
        ae = ConvAutoencoder(side, ch).eval()
        x = torch.zeros(2, ch, side, side)
        assert ae(x).shape == x.shape and ae.encoder(x).shape == (2, 256)


# ----- interface: errors, save / load, run folders ---------------------------------------------------
def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="raw-ocsvm-hindsight.*deep-svdd"):
        get_method("ocsvm")
    with pytest.raises(ValueError, match="valid methods: geom"):
        parse_methods("geom,nonsense")
    assert parse_methods("geom, raw-ocsvm") == ["geom", "raw-ocsvm-hindsight", "raw-ocsvm-fair"]
    assert parse_methods("baselines") == list(ALIASES["baselines"])


def test_too_few_images_says_so() -> None:
    x = np.zeros((1, 32, 32, 1), np.uint8)
    for method in METHODS:
        cls = METHODS[method]
        with pytest.raises(BaselineFitError, match="at least 2 normal training images, got 1"):
            cls(cls.preset_config("tiny"), "cpu").fit(x, x, np.array([True]))


def test_wrong_input_shape_is_refused(digits_pair) -> None:
    det = RawOCSVMFair(device="cpu").fit(digits_pair[0])
    with pytest.raises(ValueError, match="do not fit"):
        det.score(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(RuntimeError, match="not fitted"):
        RawOCSVMFair(device="cpu").score(digits_pair[0])


@pytest.mark.parametrize("method", list(METHODS))
def test_save_load_round_trip(method: str, digits_pair, tmp_path: Path) -> None:
    x_normal, x_test, is_normal = digits_pair
    det = fit(method, x_normal, x_test, is_normal)
    det.save(tmp_path / "model.pt")
    again = load_baseline(tmp_path / "model.pt", "cpu")
    assert type(again) is type(det) and again.config == det.config
    np.testing.assert_allclose(again.score(x_test), det.score(x_test), rtol=1e-5, atol=1e-6)


def test_load_refuses_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_baseline(tmp_path / "junk.pt")
    torch.save({"format": "geom-detector/1"}, tmp_path / "geom.pt")
    with pytest.raises(CheckpointError, match="not a baseline checkpoint"):
        load_baseline(tmp_path / "geom.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_baseline(tmp_path / "missing.pt")


def test_run_folder_has_the_geom_layout_and_keys(tmp_path: Path) -> None:
    run = run_baseline(RawOCSVMHindsight, "digits", 3, preset="tiny", seed=0, device="cpu", out=str(tmp_path))
    assert run.path == tmp_path / "raw-ocsvm-hindsight" / "digits" / "3" / "tiny-seed0"
    scores = run.scores()
    assert {"test_index", "labels", "is_normal", SCORE_KEY} <= set(scores)
    assert scores["is_normal"].sum() == (scores["labels"] == 3).sum() > 0
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["method"] == "raw-ocsvm-hindsight" and meta["score_key"] == SCORE_KEY and meta["hindsight"] is True
    assert meta["paper_method"] == "raw-ocsvm" and "gamma" in meta["fit"]
    auroc = detection_metrics(scores["is_normal"], scores[SCORE_KEY])["auroc"]
    assert run.metrics[SCORE_KEY]["auroc"] == pytest.approx(auroc)
    np.testing.assert_allclose(load_baseline(run.model_path, "cpu").score(
        load_dataset("digits").x_test[scores["test_index"]]), scores[SCORE_KEY], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_baseline_is_a_column_of_the_papers_table(method: str) -> None:
    """paper_method names a column of assets/paper_table1_auroc.csv, so tables put the paper's number beside ours."""
    assert paper_value("cifar10", 0, method=METHODS[method].paper_method) is not None


def test_every_geom_preset_gives_every_baseline_a_budget() -> None:
    """reproduce --preset colour --methods geom,raw-ocsvm must not fail on the baseline: presets
    without a baseline budget of their own run the one BASELINE_BUDGET_OF names."""
    for method in METHODS:
        cls_ = get_method(method)
        for preset in PRESETS:
            budget = BASELINE_BUDGET_OF.get(preset, preset)
            assert cls_.preset_config(preset) == cls_.preset_config(budget)
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        get_method("raw-ocsvm-fair").preset_config("fast")
