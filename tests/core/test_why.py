"""core.why: the Why page's numbers from a run's stored scores, on synthetic scores with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.scores import RunScores
from core.transforms import Transform, TransformSet
from core.why import (
    CHANCE_AUROC,
    auroc_rows,
    class_transform_auroc,
    confused_pairs,
    confusion_by_relation,
    diagnose,
    reading,
    relation_label,
    transform_auroc,
)

# id, flip, half turn, flip + half turn: the four transforms of the synthetic runs
SET = TransformSet.custom([(0, 0, 0, 0), (1, 0, 0, 0), (0, 0, 0, 2), (1, 0, 0, 2)])


def test_auroc_rows_is_sklearns_auroc_ties_included() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, (3, 40)), rng.integers(0, 4, (3, 30))  # few values: many ties
    expected = [roc_auc_score(np.r_[np.ones(40), np.zeros(30)], np.r_[p, n]) for p, n in zip(pos, neg, strict=True)]
    assert auroc_rows(pos, neg) == pytest.approx(expected)
    assert auroc_rows(np.zeros(5), np.zeros(7)) == 0.5  # a transform never recognised by anybody
    with pytest.raises(ValueError, match="at least one"):
        auroc_rows(np.zeros(3), np.zeros(0))


@pytest.mark.parametrize("relation,label", [
    (Transform(True, 0, 0, 2), "flip + half turn"), (Transform(False, 0, 0, 2), "half turn"),
    (Transform(False, 0, 0, 1), "quarter turn"), (Transform(False, 0, 0, 3), "quarter turn"),
    (Transform(False, 16, 0, 0), "shift"), (Transform(True, 0, 8, 1), "flip + quarter turn + shift"),
    (Transform(False, 0, 0, 0), "same"),
])
def test_relation_labels(relation: Transform, label: str) -> None:
    assert relation_label(relation) == label


def mean_softmax() -> np.ndarray:
    """Normal images: id and flip + half turn are confused (0.4 / 0.35), the rest well recognised."""
    m = np.array([[0.55, 0.03, 0.02, 0.40],
                  [0.02, 0.90, 0.05, 0.03],
                  [0.02, 0.03, 0.90, 0.05],
                  [0.35, 0.02, 0.03, 0.60]])
    return m


def test_the_most_confused_pair_comes_first_with_its_relation_once() -> None:
    pairs = confused_pairs(mean_softmax(), SET, top=3)
    first = pairs[0]
    assert (first.applied, first.taken_for, first.probability, first.reverse) == (0, 3, 0.40, 0.35)
    assert first.label == "flip + half turn"
    assert len({frozenset((p.applied, p.taken_for)) for p in pairs}) == 3  # each unordered pair once
    shares = confusion_by_relation(mean_softmax(), SET)
    # id <-> flip rot180 and flip <-> rot180: 0.40 + 0.35 + 0.05 + 0.03 of the 1.05 off the diagonal
    assert shares[0].label == "flip + half turn" and shares[0].share == pytest.approx(0.83 / 1.05)
    assert shares[0].even == pytest.approx(4 / 12)  # 4 of the 12 ordered pairs are a flip + half turn apart
    assert sum(r.share for r in shares) == pytest.approx(1.0) and sum(r.even for r in shares) == pytest.approx(1.0)


def run_scores() -> RunScores:
    """60 normal images and two anomalous classes of 30; transform 1 separates, transform 0 is at chance
    (it never recognises anybody), transform 2 separates class 5 only."""
    rng = np.random.default_rng(1)
    labels = np.r_[np.full(60, 3), np.full(30, 5), np.full(30, 7)]
    normal = labels == 3
    p = np.zeros((120, 4), np.float16)
    p[:, 1] = np.where(normal, rng.uniform(0.6, 1.0, 120), rng.uniform(0.0, 0.4, 120))
    p[:, 2] = np.where(labels == 5, 0.1, 0.8)
    p[:, 3] = rng.uniform(0, 1, 120)
    simple = p.astype(np.float64).mean(1)
    return RunScores(np.arange(120), labels, normal, {"dirichlet": p[:, 1].astype(np.float64), "simple": simple},
                     p, mean_softmax(), np.full((4, 4), 0.25))


def test_per_transform_and_per_class_auroc() -> None:
    scores = run_scores()
    auroc = transform_auroc(scores)
    assert auroc[0] == 0.5 and auroc[1] == 1.0 and auroc[2] == pytest.approx(0.75)
    classes, per_class = class_transform_auroc(scores)
    assert classes == [5, 7] and per_class.shape == (2, 4)
    assert per_class[:, 2] == pytest.approx([1.0, 0.5])  # transform 2 catches class 5 alone
    with pytest.raises(ValueError, match="correct_prob"):
        transform_auroc(RunScores(scores.test_index, scores.labels, scores.is_normal, scores.by_method))


def test_diagnosis_and_its_reading_come_from_the_numbers() -> None:
    d = diagnose(run_scores(), SET)
    assert d.names == SET.names and d.recognised.tolist() == [0.55, 0.90, 0.90, 0.60]
    assert d.no_signal == [t for t in range(4) if d.transform_auroc[t] < CHANCE_AUROC]
    assert 0 in d.no_signal and 1 not in d.no_signal
    assert set(d.class_auroc) == {"dirichlet", "simple"} and set(d.class_auroc["dirichlet"]) == {5, 7}
    text = reading(d, "3", lambda c: f"class {c}")
    assert f"{d.recognised.mean():.2f} of the probability" in text
    assert "confused with their flip + half turn twins (79% of the rest" in text and "id taken for flip rot180" in text
    assert "33% if it were spread evenly" in text and "the class looks alike under a flip + half turn" in text
    assert f"{len(d.no_signal)} of 4 transforms" in text and "best single transform, flip" in text
    assert "hardest anomaly class is class" in text


def test_a_run_without_per_image_probabilities_still_diagnoses_its_pairs() -> None:
    s = run_scores()
    d = diagnose(RunScores(s.test_index, s.labels, s.is_normal, s.by_method, None, s.mean_softmax_normal), SET)
    assert d.transform_auroc is None and d.class_transform_auroc is None and d.no_signal == []
    assert "carry" not in reading(d, "3", str) and "flip + half turn" in reading(d, "3", str)


def test_a_run_without_anomalies_or_with_another_set_is_refused() -> None:
    s = run_scores()
    with pytest.raises(ValueError, match="normal and anomalous"):
        diagnose(RunScores(s.test_index, s.labels, np.ones(120, bool), s.by_method, s.correct_prob,
                           s.mean_softmax_normal), SET)
    with pytest.raises(ValueError, match="4 transforms, the run's config 72"):
        diagnose(s, TransformSet.paper())


def test_an_even_confusion_is_not_read_as_an_invariance() -> None:
    s = run_scores()
    even = np.full((4, 4), 0.1) + 0.6 * np.eye(4)
    d = diagnose(RunScores(s.test_index, s.labels, s.is_normal, s.by_method, s.correct_prob, even), SET)
    assert all(r.share == pytest.approx(r.even) for r in d.by_relation)
    assert "no invariance stands out" in reading(d, "3", str)
