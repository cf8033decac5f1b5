"""core.selection: --transforms as typed, and the auto rule on synthetic probe outputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import preset_config
from core.selection import AUTO, HOLDOUT_MAX, choose_transforms, holdout_split, parse_transforms
from core.transforms import TransformSet

CONFIG = preset_config("tiny", 32, 1)
PAPER = TransformSet.paper(32)


# ----- --transforms as typed --------------------------------------------------------------------------
def test_a_set_name_or_auto_is_kept_as_it_is() -> None:
    assert parse_transforms("flip_rot8", CONFIG) == "flip_rot8"
    assert parse_transforms(" paper72 ", CONFIG) == "paper72"
    assert parse_transforms("translate7", CONFIG) == "translate7"
    assert parse_transforms(AUTO, CONFIG) == AUTO


def test_a_list_by_number_name_or_range_is_the_canonical_names_list() -> None:
    by_number = parse_transforms("38, 0,1", CONFIG)
    assert by_number == "id, rot90, flip rot180"
    assert parse_transforms("flip rot180,id,   rot90", CONFIG) == by_number  # any order, spaces
    assert TransformSet.by_name(by_number).transforms == (PAPER[0], PAPER[1], PAPER[38])
    unflipped = TransformSet.by_name(parse_transforms("0-35", CONFIG))
    assert unflipped.transforms == PAPER.transforms[:36]
    assert parse_transforms("0-71", CONFIG) == "paper72"  # all of them: the set itself, the plain run folder
    at_64 = preset_config("tiny", 64, 3)
    assert parse_transforms("up16, flip", at_64) == "up16, flip"  # names follow the image size


@pytest.mark.parametrize("text,message", [
    ("id, bogus", "unknown transform 'bogus'"),
    ("up8, up9", "unknown transform 'up9'"),  # a name, but not of the preset's set
    ("0, 72", "transform number '72' is outside 0-71"),
    ("5-2", "transform number '5-2' is outside"),
    ("rot90", "chooses 1 transform(s)"),
    ("", "unknown transform ''"),
    ("paper", "unknown transform 'paper'"),
])
def test_a_bad_choice_names_every_valid_one(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_transforms(text, CONFIG)
    assert message in str(info.value)
    assert "paper72, flip, translateN, rot4, flip_rot8" in str(info.value) and "auto" in str(info.value)
    assert "flip up8 left8 rot270" in str(info.value)  # every transform's name


# ----- the rule -----------------------------------------------------------------------------------------
def probe_softmax(n: int = 80, seed: int = 0) -> np.ndarray:
    """(n, 5, 5) softmax of a probe on held-out normals: transforms 0 and 1 look the same to it (it splits
    its belief between them whichever was applied), 4 is never recognised (its images get no more p(4)
    than any other transform's: the probe takes them for the others), 2 and 3 are recognised."""
    rng = np.random.default_rng(seed)
    p = np.full((n, 5, 5), 0.02)
    p[:, :, 4] = rng.uniform(0.01, 0.03, (n, 5))  # p(4): the same spread whichever transform was applied
    for t in (0, 1):
        share = rng.uniform(0.3, 0.6, n)  # drawn alike for both: nothing tells T_0(x) from T_1(x)
        p[:, t, 0], p[:, t, 1] = 0.92 * share, 0.92 * (1 - share)
    for t in (2, 3):
        p[:, t, t] = rng.uniform(0.8, 0.9, n)
    p[:, 4, :4] = 0.24
    return p / p.sum(-1, keepdims=True)


def test_of_two_indistinguishable_transforms_one_goes_and_the_others_stay() -> None:
    choice = choose_transforms(probe_softmax())
    assert set(choice.kept) & {0, 1} and not {0, 1} <= set(choice.kept)  # exactly one of the twins stays
    dropped = ({0, 1} - set(choice.kept)).pop()
    assert choice.twin[dropped] == 1 - dropped and choice.twin_auroc[dropped] < 0.6
    assert {2, 3} <= set(choice.kept)
    assert 4 not in choice.kept  # never recognised: indistinguishable from what is kept
    assert choice.recognised[2] > choice.recognised[4]
    assert all(choice.twin_auroc[t] >= 0.6 for t in choice.kept if t in (2, 3))


def test_every_transform_stays_when_each_is_recognised() -> None:
    p = np.full((40, 4, 4), 0.05)
    for t in range(4):
        p[:, t, t] = np.random.default_rng(t).uniform(0.7, 0.85, 40)
    assert choose_transforms(p).kept == (0, 1, 2, 3)


def test_holdout_split_is_disjoint_seeded_and_capped() -> None:
    train, held = holdout_split(100, seed=0)
    assert len(held) == 20 and len(train) == 80 and not set(train) & set(held)
    assert np.array_equal(held, holdout_split(100, seed=0)[1]) and not np.array_equal(held, holdout_split(100, 1)[1])
    assert len(holdout_split(50_000, 0)[1]) == HOLDOUT_MAX
    assert len(holdout_split(3, 0)[1]) == 1
    with pytest.raises(ValueError, match="at least 3"):
        holdout_split(2, 0)


# ----- runs with a subset of the transforms -------------------------------------------------------------
def test_a_run_with_a_subset_saves_its_list_and_loads(subset_run) -> None:
    from core.config import GeomConfig
    from core.detector import GeomDetector
    from core.scores import RunScores
    from core.transforms import spec_tag
    from tests.conftest import SUBSET_TRANSFORMS

    spec = parse_transforms(SUBSET_TRANSFORMS, CONFIG)
    config = GeomConfig.from_dict(subset_run.meta["config"])
    assert config.transforms == spec and len(config.transform_set()) == 26
    assert subset_run.path.name == f"tiny-transforms{spec_tag(spec)}-seed0"
    det = GeomDetector.load(subset_run.model_path, "cpu", expected=config)
    assert det.transforms.names == PAPER.names[:24] + ["flip", "flip rot180"] and det.alphas.shape == (26, 26)
    scores = RunScores.of(subset_run)
    assert scores.correct_prob.shape == (len(scores.labels), 26) and scores.correct_prob.dtype == np.float16
    assert scores.mean_softmax_normal.shape == (26, 26)


def test_a_rerun_keeps_the_runs_setting_and_changes_only_the_transforms(subset_run) -> None:
    from core.experiment import rerun_request
    from core.runs import RunInfo

    request = rerun_request(subset_run, "0-3", data_dir="/data", out="/results")
    assert (request.dataset, request.normal_class, request.preset, request.seed) == ("digits", 3, "tiny", 0)
    assert request.overrides == (("transforms", "0-3"),) and (request.data_dir, request.out) == ("/data", "/results")
    assert rerun_request(subset_run, "paper72").overrides == ()  # the preset's own set: the plain run
    config = {**subset_run.meta["config"], "steps": 7}
    changed = RunInfo(subset_run.path, {**subset_run.meta, "config": config}, subset_run.metrics)
    assert rerun_request(changed, AUTO).overrides == (("steps", 7), ("transforms", AUTO))
