"""core.compare: which settings two runs differ in, their AUROCs per anomalous class aligned by class,
and when two softmax matrices may be subtracted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.compare import aligned_class_auroc, config_diff, run_settings, run_transforms, why_not_subtract
from core.config import preset_config
from core.metrics import auroc_per_class
from core.runs import RunInfo
from core.scores import RunScores
from core.transforms import TransformSet, spec_tag


def run(name: str, normal_class: int = 3, seed: int = 0, **config) -> RunInfo:
    cfg = preset_config("tiny", 32, 1, seed=seed, **config).to_dict()  # a run's config holds its seed too
    meta = {"method": "geom", "dataset": "digits", "normal_class": normal_class, "class_label": str(normal_class),
            "preset": "tiny", "seed": seed, "config": cfg, "n_train": 450, "n_test": 600, "device": "cpu"}
    return RunInfo(Path("/results/geom/digits") / str(normal_class) / name, meta, {})


def test_settings_read_as_text_with_the_transforms_counted() -> None:
    settings = run_settings(run("tiny-seed0"))
    assert settings["normal class"] == "3" and settings["seed"] == "0" and settings["steps"] == "40"
    assert settings["transforms"] == "72 (paper72)"
    assert settings["max_train_images"] == "500" and settings["epochs"] == "-"  # None reads as "-"


def test_the_diff_lists_only_what_differs() -> None:
    plain = run("tiny-seed0")
    subset = run("tiny-transforms3-abc-seed0", transforms="id, rot90, flip")
    assert [(d.name, d.first, d.second) for d in config_diff(plain, subset)] == [
        ("transforms", "72 (paper72)", f"3 ({spec_tag('id, rot90, flip')})")]
    other = run("tiny-seed1", normal_class=5, seed=1)
    assert [d.name for d in config_diff(plain, other)] == ["normal class", "seed"]
    assert config_diff(plain, run("copy")) == []


def test_a_setting_only_one_run_has_reads_as_a_dash() -> None:
    a, b = run("a"), run("b")
    b.meta["config"]["new_field"] = 1
    b.meta["transform_selection"] = {"kept": []}
    diff = {d.name: (d.first, d.second) for d in config_diff(a, b)}
    assert diff["new_field"] == ("-", "1")
    assert diff["transforms"] == ("72 (paper72)", "72 (paper72, chosen by auto)")


def scores(normal_class: int, classes: list[int], seed: int) -> RunScores:
    rng = np.random.default_rng(seed)
    labels = np.repeat(classes, 20)
    normal = labels == normal_class
    return RunScores.from_arrays({"test_index": np.arange(len(labels)), "labels": labels, "is_normal": normal,
                                  "dirichlet": normal + rng.normal(size=len(labels)),
                                  "simple": normal + rng.normal(size=len(labels))})


def test_per_class_aurocs_align_on_the_classes_either_run_tested() -> None:
    """Normal class 3 against 5 on one dataset: each run's normal class is the other's anomaly only."""
    a, b = scores(3, [0, 3, 5], 0), scores(5, [0, 3, 5], 1)
    rows = aligned_class_auroc(a, b, "dirichlet")
    assert [r.label for r in rows] == [0, 3, 5]
    first = auroc_per_class(a.labels, a.is_normal, a.score("dirichlet"))
    second = auroc_per_class(b.labels, b.is_normal, b.score("dirichlet"))
    assert rows[0].first == first[0] and rows[0].second == second[0]
    assert rows[1].first is None and rows[1].second == second[3]  # 3 is run A's normal class
    assert rows[2].first == first[5] and rows[2].second is None
    assert aligned_class_auroc(a, b, "simple")[0].first != rows[0].first  # the score asked for
    with pytest.raises(ValueError, match="unknown score method"):
        aligned_class_auroc(a, b, "nope")


def test_a_run_without_anomalies_has_no_per_class_aurocs() -> None:
    rows = aligned_class_auroc(scores(3, [3], 0), scores(3, [0, 3], 1), "dirichlet")
    assert [(r.label, r.first) for r in rows] == [(0, None)]


def test_matrices_subtract_only_over_the_same_transforms() -> None:
    paper = TransformSet.paper(32)
    assert why_not_subtract(paper, TransformSet.paper(32)) is None
    assert "72, run B 26" in why_not_subtract(paper, TransformSet(paper.transforms[:26]))
    swapped = TransformSet(paper.transforms[1:] + paper.transforms[:1])
    assert "another order" in why_not_subtract(paper, swapped)
    assert "64 of run A's are not run B's, e.g. right16" in why_not_subtract(TransformSet.paper(64), paper)
    assert "baseline" in why_not_subtract(paper, None)
    assert run_transforms(run("a")).transforms == paper.transforms
    assert run_transforms(RunInfo(Path("b"), {"config": {}}, {})) is None
