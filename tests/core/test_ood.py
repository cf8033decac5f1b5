"""Section 5.5's engine (core.ood): the two-headed WRN, MSP and ODIN, the held-out tuning split, the OOD
set's conversion, and the run folders' refusals of each other's kind. The trained cases use the
session's tiny ``ood_run`` (digits against a folder of PNGs and JPEGs)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.baselines import load_run_detector
from core.data import DataError, ImageDataset, load_dataset
from core.metrics import fpr_at_tpr
from core.ood import OOD_PRESETS, OOD_SCORES, OodConfig, OodScores, metric_rows, ood_preset_config, read_ood_run
from core.ood.data import labelled_classes, load_in_distribution, load_out_of_distribution, tuning_split
from core.ood.model import OodModel, TwoHeadWRN
from core.ood.odin import ODIN_EPSILONS, ODIN_TEMPERATURES, log_max_softmax, max_softmax, odin
from core.paper_tables import paper_ood
from core.reproduce import available_datasets
from core.runs import CheckpointError, RunInfo
from core.wrn import inference_copy
from tests.app_fixtures import OOD_FOLDER_IMAGES, geom_run_without_model, normal_only_folder, ood_folder


@pytest.fixture(scope="module")
def net() -> TwoHeadWRN:
    """An untrained two-headed WRN-10-1 on 32x32 grey images, 72 transforms and 10 categories."""
    torch.manual_seed(0)
    return TwoHeadWRN(10, 1, 72, 10, in_channels=1, image_size=32).eval()


def images(n: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ----- the network ----------------------------------------------------------------------------------------
def test_two_heads_share_one_body_and_forward_stays_the_transform_head(net: TwoHeadWRN) -> None:
    x = images(5)
    with torch.no_grad():
        transforms, classes = net.heads(x)
        assert transforms.shape == (5, 72) and classes.shape == (5, 10)
        assert torch.equal(net(x), transforms) and torch.equal(net.class_logits(x), classes)
        # GEOM's scoring path folds the BNs of the same network: its forward is still the transform head
        assert torch.allclose(inference_copy(net)(x), transforms, atol=1e-4)
    assert net.class_fc.in_features == net.fc.in_features


# ----- configs and presets ------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(OOD_PRESETS))
def test_every_preset_is_a_valid_config(preset: str) -> None:
    config = ood_preset_config(preset, 32, 3, seed=2)
    assert config.seed == 2 and config.total_steps(50_000) >= 1
    assert OodConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # survives run.json


def test_the_paper_preset_is_the_authors_section_5_5_training() -> None:
    """WRN-16-8, SGD 0.1 with Nesterov momentum, x0.2 after epochs 60, 120, 160 of 200, batch 128."""
    config = ood_preset_config("paper", 32, 3)
    assert (config.depth, config.width, config.optimizer, config.lr, config.batch_size) == (16, 8, "sgd", 0.1, 128)
    total = config.total_steps(50_000)
    assert total == 200 * 390  # the authors' steps_per_epoch: len(x_train) // batch_size
    assert config.drop_steps(total) == [60 * 390, 120 * 390, 160 * 390]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("optimizer", "rmsprop", "unknown optimizer"),
    ("lr_drops", (0.6, 0.3), "lr_drops"),
    ("tune_images", 0, "tune_images"),
    ("max_test_images", 0, "max_test_images"),  # a field checked by GeomConfig's rules
    ("steps", None, "epochs or steps"),
])
def test_bad_configs_are_refused_naming_the_field(field: str, value: object, message: str) -> None:
    base = OodConfig(epochs=None, steps=10)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(base, **{field: value})


# ----- MSP and ODIN -----------------------------------------------------------------------------------------
def test_the_grid_is_odins() -> None:
    assert ODIN_TEMPERATURES == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    assert len(ODIN_EPSILONS) == 21 and ODIN_EPSILONS[0] == 0 and ODIN_EPSILONS[-1] == pytest.approx(0.004)
    assert np.allclose(np.diff(ODIN_EPSILONS), 0.0002)


def test_max_softmax_and_odin_at_t1_eps0_agree(net: TwoHeadWRN) -> None:
    x = images(40)
    msp = max_softmax(net, x, torch.device("cpu"), batch=16)
    plain, perturbed = odin(net, x, 1.0, [0.0, 0.002], torch.device("cpu"), batch=16)
    np.testing.assert_allclose(plain, msp, rtol=0, atol=1e-6)
    # ODIN's step follows the gradient that raises the top class's softmax: most images gain confidence
    assert (perturbed > plain).mean() > 0.9


def test_log_max_softmax_keeps_the_order_where_probabilities_round_to_one() -> None:
    logits = torch.tensor([[100.0, 0.0, 0.0], [60.0, 0.0, 0.0], [1.0, 0.5, -1.0]])
    scores = log_max_softmax(logits)
    assert scores[0] > scores[1] and torch.softmax(logits[:2].double(), 1).max(1).values.eq(1).all()
    assert torch.allclose(scores.exp(), torch.softmax(logits.double(), 1).max(1).values)
    assert torch.allclose(log_max_softmax(logits, 10.0).exp(), torch.softmax(logits.double() / 10, 1).max(1).values)


def test_fpr_at_tpr_is_the_share_of_anomalies_above_the_95_percent_threshold() -> None:
    is_normal = np.r_[np.ones(20, bool), np.zeros(10, bool)]
    scores = np.r_[np.linspace(1, 2, 20), np.linspace(0, 1.5, 10)]
    threshold = np.sort(scores[:20])[::-1][18]  # 19 of the 20 normal images at or above it
    assert fpr_at_tpr(is_normal, scores) == pytest.approx((scores[20:] >= threshold).mean())


# ----- the tuning split -------------------------------------------------------------------------------------
def test_tuning_split_holds_the_tuning_images_out_of_the_evaluation() -> None:
    y = np.repeat(np.arange(10), 30)
    config = OodConfig(epochs=None, steps=1, tune_images=40, seed=3)
    split = tuning_split(y, 500, config)
    assert (len(split.tune_in), len(split.tune_out)) == (40, 40)
    assert (len(split.eval_in), len(split.eval_out)) == (260, 460)
    assert not set(split.tune_in) & set(split.eval_in) and not set(split.tune_out) & set(split.eval_out)
    assert sorted(np.r_[split.tune_in, split.eval_in]) == list(range(300))
    again = tuning_split(y, 500, config)
    assert np.array_equal(again.tune_in, split.tune_in) and np.array_equal(again.tune_out, split.tune_out)
    small = tuning_split(y[:5], 3, config)  # at most half of a side tunes
    assert (len(small.tune_in), len(small.eval_in), len(small.tune_out), len(small.eval_out)) == (2, 3, 1, 2)
    with pytest.raises(DataError, match="too few"):
        tuning_split(y, 1, config)


def test_odin_was_tuned_on_held_out_images_only(ood_run: RunInfo) -> None:
    s = OodScores.of(ood_run)
    assert not set(s.tune_in_index) & set(s.index[s.is_in])
    assert not set(s.tune_out_index) & set(s.index[~s.is_in])
    meta = ood_run.meta
    assert (len(s.tune_in_index), len(s.tune_out_index)) == (meta["n_tune_in"], meta["n_tune_out"]) == (15, 15)
    assert (s.is_in.sum(), (~s.is_in).sum()) == (meta["n_eval_in"], meta["n_eval_out"])
    # the choice is the grid's lowest FPR at 95% TPR, ties to the higher AUROC
    arrays = ood_run.scores()
    fpr, auroc = arrays["odin_fpr95"], arrays["odin_auroc"]
    i = list(arrays["odin_temperatures"]).index(meta["odin"]["temperature"])
    j = list(arrays["odin_epsilons"]).index(meta["odin"]["epsilon"])
    assert fpr[i, j] == fpr.min() and auroc[i, j] == auroc[fpr == fpr.min()].max()


def test_the_run_folder_holds_the_three_scores_and_their_metrics(ood_run: RunInfo) -> None:
    assert ood_run.path.relative_to(ood_run.path.parents[3]).parts == ("ood", "digits", "folder-noise", "tiny-seed0")
    assert {p.name for p in ood_run.path.iterdir()} >= {"run.json", "metrics.json", "scores.npz", "model.pt",
                                                        "history.json"}
    for method in OOD_SCORES:
        assert set(ood_run.metrics[method]) == {"auroc", "aupr_in", "aupr_out", "fpr95"}
        assert all(0 <= v <= 1 + 1e-12 for v in ood_run.metrics[method].values())  # sklearn's AP can round up
    meta = ood_run.meta
    assert meta["method"] == "ood" and meta["config"]["depth"] == 10 and meta["seconds"] > 0
    assert meta["out_skipped"] == [["broken.png", "This file is not an image that can be read (expected PNG, JPEG, "
                                                  "BMP or WebP)."]]
    s = OodScores.of(ood_run)
    assert len(ood_run.scores()["out_files"]) == OOD_FOLDER_IMAGES
    assert (s.labels[~s.is_in] == -1).all() and (s.labels[s.is_in] >= 0).all()
    geom = s.by_method["geom"]
    assert geom[s.most_in_positions].min() >= geom[s.most_out_positions].max()
    assert s.most_in_images.shape == (12, 32, 32, 1)


def test_a_saved_model_reloads_and_scores_as_the_run_did(ood_run: RunInfo) -> None:
    model = OodModel.load(ood_run.model_path, "cpu")
    s = OodScores.of(ood_run)
    again = model.geom_score(s.most_in_images)
    np.testing.assert_allclose(again, s.by_method["geom"][s.most_in_positions], atol=1e-3)
    assert model.class_names == tuple(ood_run.meta["class_names"])


# ----- what each kind of reader refuses ------------------------------------------------------------------
def test_ood_readers_refuse_a_geom_one_class_run(tmp_path: Path) -> None:
    folder = geom_run_without_model(tmp_path / "results")
    with pytest.raises(ValueError, match="geom one-class run .* not an out-of-distribution run"):
        read_ood_run(folder)
    fake = tmp_path / "model.pt"
    torch.save({"format": "geom-detector/1"}, fake)
    with pytest.raises(CheckpointError, match="not a out-of-distribution checkpoint"):
        OodModel.load(fake, "cpu")


def test_one_class_readers_refuse_an_ood_run(ood_run: RunInfo) -> None:
    with pytest.raises(ValueError, match="is an out-of-distribution run .* no one-class detector"):
        load_run_detector(ood_run, "cpu")
    assert available_datasets(ood_run.path.parents[3]) == {}  # no place in the one-class tables


# ----- the data -----------------------------------------------------------------------------------------------
def test_an_unlabelled_in_distribution_set_is_refused(tmp_path: Path) -> None:
    flat = normal_only_folder(tmp_path / "good")
    with pytest.raises(DataError, match="needs a labelled dataset of two or more classes"):
        load_in_distribution(f"folder:{flat}")
    assert labelled_classes(load_dataset("digits")) == list(range(10))


def test_an_ood_folder_is_converted_and_its_corrupt_file_skipped(tmp_path: Path) -> None:
    folder = ood_folder(tmp_path / "noise")
    grey = load_out_of_distribution(f"folder:{folder}", load_dataset("digits"))
    assert grey.x.shape == (OOD_FOLDER_IMAGES, 32, 32, 1) and grey.x.dtype == np.uint8
    assert len(grey.files) == OOD_FOLDER_IMAGES and "notes.txt" not in grey.files
    assert [path for path, _ in grey.skipped] == ["broken.png"]
    assert "greyscale" in grey.conversion
    rng = np.random.default_rng(0)
    colour = ImageDataset("colour", rng.integers(0, 256, (20, 64, 64, 3), dtype=np.uint8), np.arange(20) % 2,
                          rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8), np.arange(6) % 2, ("a", "b"))
    rgb = load_out_of_distribution(f"folder:{folder}", colour)
    assert rgb.x.shape == (OOD_FOLDER_IMAGES, 64, 64, 3)
    digits_in_colour = load_out_of_distribution("digits", colour)  # a built-in set, grey 32 -> RGB 64
    assert digits_in_colour.x.shape == (360, 64, 64, 3) and digits_in_colour.files is None
    assert (digits_in_colour.x[..., 0] == digits_in_colour.x[..., 2]).all()  # grey repeated into each channel


def test_ood_sets_that_cannot_serve_are_refused(tmp_path: Path) -> None:
    digits = load_dataset("digits")
    with pytest.raises(DataError, match="is the in-distribution set itself"):
        load_out_of_distribution("Digits", digits)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DataError, match="no readable images .*broken.png"):
        load_out_of_distribution(f"folder:{empty}", digits)
    with pytest.raises(DataError, match="no folder at"):
        load_out_of_distribution(f"folder:{tmp_path / 'missing'}", digits)


# ----- the paper's figures ------------------------------------------------------------------------------------
def test_the_papers_section_5_5_figures_are_read_from_one_csv() -> None:
    refs = {r.method: r.values for r in paper_ood("cifar10")}
    assert refs == {"geom": {"auroc": 95.7, "aupr_in": 96.1, "aupr_out": 95.4},
                    "odin": {"auroc": 92.1, "aupr_in": 89.0, "aupr_out": 93.6}}
    assert paper_ood("digits") == []


def test_metric_rows_put_the_papers_beside_ours_only_for_its_dataset(ood_run: RunInfo) -> None:
    rows = metric_rows(ood_run)
    assert [r["method"].split(" (")[0] for r in rows] == ["GEOM", "max softmax", "ODIN"]
    as_cifar = RunInfo(ood_run.path, {**ood_run.meta, "dataset": "cifar10"}, ood_run.metrics)
    paper_rows = metric_rows(as_cifar)[3:]
    assert [r["AUROC"] for r in paper_rows] == ["95.7", "92.1"] and all("(paper)" in r["data"] for r in paper_rows)
