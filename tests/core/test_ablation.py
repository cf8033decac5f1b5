"""core.ablation (paper Section 6) and `python -m core ablation`: tiny models on the offline digits."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.ablation import (
    PAPER_ABLATIONS,
    AblationSpec,
    ListConfig,
    ablation_config,
    ablation_data,
    confusion,
    paper_auroc_for,
    resolve_transforms,
    run_ablation,
    run_ablation_seeds,
    transformed_examples,
    with_overrides,
)
from core.cli import main
from core.data import DataError
from core.metrics import mean_sem
from core.train import build_model

TINY = dict(dataset="digits", steps=3, batch_size=16, fit_images=40, max_test_images=60)


def test_paper_presets_carry_the_papers_numbers() -> None:
    assert {k: p.paper_auroc for k, p in PAPER_ABLATIONS.items()} == {
        "8v3-flip": 0.646, "3v8-flip": 0.957, "8v3-translate7": 0.919}
    spec = PAPER_ABLATIONS["8v3-translate7"].spec
    assert (spec.dataset, spec.normal, spec.anomaly, spec.transforms) == ("mnist", 8, 3, "translate7")
    assert paper_auroc_for(with_overrides(spec, steps=50)) == 0.919  # training knobs aside
    assert paper_auroc_for(AblationSpec(normal="3", anomaly="8")) == 0.957
    assert paper_auroc_for(AblationSpec(normal=1, anomaly=7)) is None


def test_resolve_transforms_names_and_custom_lists() -> None:
    assert resolve_transforms("flip").names == ["id", "flip"]
    assert resolve_transforms("translate7").names == ["id", "left7"]
    assert len(resolve_transforms("flip_rot8")) == 8
    custom = resolve_transforms("0,0,0,0; 0,0,0,1 ;1,2,-3,0")
    assert custom.names == ["id", "rot90", "flip up2 right3"]
    assert resolve_transforms([(0, 0, 0, 0), (1, 0, 0, 0)]).names == ["id", "flip"]
    for bad in ("nonsense", "0,0,0; 1,0,0,0", "0,0,0,0", "0,0,0,0; 0,0,0,0"):
        with pytest.raises(ValueError):
            resolve_transforms(bad)


def test_configs_for_named_and_custom_sets() -> None:
    data = ablation_data(AblationSpec(**TINY, normal=8, anomaly=3)).data
    named = ablation_config(AblationSpec(transforms="rot4"), data, seed=2)
    assert named.transforms == "rot4" and named.num_transforms == 4 and named.seed == 2 and named.in_channels == 1
    custom = ablation_config(AblationSpec(transforms="0,0,0,0; 0,3,0,0; 0,0,0,2"), data, seed=0)
    assert isinstance(custom, ListConfig) and custom.num_transforms == 3
    assert build_model(custom).num_classes == 3
    # Cache keys: the same experiment written two ways is one key; another seed-independent knob is another.
    a = AblationSpec(transforms=((0, 0, 0, 0), (1, 0, 0, 0)))
    assert a.key() == AblationSpec(transforms=[[0, 0, 0, 0], [1, 0, 0, 0]]).key()
    assert a.key() != with_overrides(a, steps=10).key()


def test_confusion_counts_argmax_per_transform() -> None:
    p = np.zeros((4, 2, 2))
    p[:, 0, 0] = 1  # identity always recognised
    p[:3, 1, 1] = 1  # flip recognised on 3 of 4
    p[3, 1, 0] = 1
    c = confusion(p)
    np.testing.assert_allclose(c, [[1, 0], [0.25, 0.75]])
    np.testing.assert_allclose(c.sum(1), 1)


def test_ablation_data_selects_the_two_classes() -> None:
    prepared = ablation_data(AblationSpec(dataset="digits", normal=8, anomaly=3))
    y = prepared.data.y_test[prepared.test_index]
    assert set(np.unique(y)) == {3, 8}
    assert (prepared.is_normal == (y == 8)).all()
    assert len(prepared.x_train) == (prepared.data.y_train == 8).sum()
    capped = ablation_data(AblationSpec(**TINY, normal=8, anomaly=3))
    assert abs(len(capped.test_index) - 60) <= 2 and capped.is_normal.any() and (~capped.is_normal).any()


def test_bad_classes_and_transforms_are_clear_errors() -> None:
    with pytest.raises(DataError, match="out of range"):
        ablation_data(AblationSpec(dataset="digits", normal=12, anomaly=3))
    with pytest.raises(ValueError, match="both"):
        ablation_data(AblationSpec(dataset="digits", normal=3, anomaly="3"))
    with pytest.raises(ValueError, match="unknown transform set"):
        ablation_data(AblationSpec(dataset="digits", normal=8, anomaly=3, transforms="shear"))


def test_transformed_examples_show_what_the_classifier_sees() -> None:
    spec = AblationSpec(dataset="digits", normal=8, anomaly=3, transforms="flip")
    ex = transformed_examples(spec, ablation_data(spec), per_class=2)
    assert ex["normal"].shape == (2, 2, 32, 32, 1) and ex["normal"].dtype == np.uint8
    np.testing.assert_array_equal(ex["anomaly"][:, 1], ex["anomaly"][:, 0, :, ::-1])  # column 1 is the mirror image


def test_run_ablation_result_and_seed_summary() -> None:
    spec = AblationSpec(**TINY, normal=8, anomaly=3, transforms="0,0,0,0; 1,0,0,0")
    summary = run_ablation_seeds(spec, seeds=[0, 1], device="cpu")
    assert [r.seed for r in summary.runs] == [0, 1]
    r = summary.runs[0]
    assert r.transform_names == ["id", "flip"] and r.n_normal + r.n_anomalous == len(r.is_normal)
    for m in ("dirichlet", "simple"):
        assert 0.0 <= r.auroc[m] <= 1.0 and r.scores[m].shape == r.is_normal.shape
    for c in (r.confusion_normal, r.confusion_anomalous):
        assert c.shape == (2, 2)
        np.testing.assert_allclose(c.sum(1), 1)
    assert r.accuracy_normal == pytest.approx(np.diag(r.confusion_normal).mean())
    for m in (r.mean_softmax_normal, r.mean_softmax_anomalous):  # the page draws these: mean probabilities
        assert m.shape == (2, 2) and (m > 0).all() and (m < 1).all()
        np.testing.assert_allclose(m.sum(1), 1)
    np.testing.assert_allclose(summary.mean_softmax_normal, np.mean([x.mean_softmax_normal for x in summary.runs], 0))
    assert summary.auroc() == mean_sem([x.auroc["dirichlet"] for x in summary.runs])
    assert summary.normal_label == "8" and summary.paper_auroc is None
    json.dumps(summary.to_json())  # serialisable
    # The same seed retrains to the same numbers.
    again = run_ablation(spec, 0, device="cpu")
    assert again.auroc == pytest.approx(r.auroc)


def test_ablation_on_real_mnist_uses_all_test_images_of_both_digits(real_dataset, shared_data_dir) -> None:
    real_dataset("mnist")  # present, or the test skips
    prepared = ablation_data(PAPER_ABLATIONS["8v3-flip"].spec, str(shared_data_dir))
    assert prepared.is_normal.sum() == 974 and (~prepared.is_normal).sum() == 1010  # MNIST test: 974 '8's, 1010 '3's
    assert len(prepared.x_train) == 5851 and prepared.x_train.shape[1:] == (32, 32, 1)


def test_ablation_trains_the_small_cnn_when_asked(capsys: pytest.CaptureFixture) -> None:
    spec = AblationSpec(**TINY, normal=8, anomaly=3, transforms="flip", network="small_cnn")
    r = run_ablation(spec, 0, device="cpu")
    assert 0.0 <= r.auroc["dirichlet"] <= 1.0 and r.confusion_normal.shape == (2, 2)
    assert ablation_config(spec, ablation_data(spec).data, seed=0).network == "small_cnn"
    assert main(["ablation", "--dataset", "digits", "--normal", "8", "--anomaly", "3", "--network", "small_cnn",
                 "--seeds", "1", "--steps", "2", "--max-test-images", "60", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["spec"]["network"] == "small_cnn"


def test_weight_decay_reaches_the_classifier(capsys: pytest.CaptureFixture) -> None:
    spec = AblationSpec(**TINY, normal=8, anomaly=3, transforms="flip")
    data = ablation_data(spec).data
    by_default = {net: ablation_config(replace(spec, network=net), data, seed=0).weight_decay
                  for net in ("small_cnn", "wrn")}
    assert by_default == {"small_cnn": 0.0, "wrn": 5e-4}
    assert ablation_config(replace(spec, weight_decay=1e-3), data, seed=0).weight_decay == 1e-3
    assert main(["ablation", "--dataset", "digits", "--normal", "8", "--anomaly", "3", "--weight-decay", "0.01",
                 "--seeds", "1", "--steps", "2", "--max-test-images", "60", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["spec"]["weight_decay"] == 0.01
