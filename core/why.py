"""Why a class fails: what a run's stored scores say about its transforms, without rescoring.

A GEOM detector is only as good as the transforms its normal class is *not* invariant to. A run's
scores.npz already holds what it takes to see which those are: the mean softmax matrix of the normal
test images (which transform is taken for which, and how the two are related) and, per test image
and transform, the probability of the right transform (how well each transform alone ranks normal
images above anomalies, per anomalous class). Everything here is numpy over
:class:`core.scores.RunScores`, so the explorer's Why page and the notebook read the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from core.metrics import auroc_per_class, has_both_groups
from core.scores import RunScores
from core.transforms import Transform, TransformSet, relation

CHANCE_AUROC = 0.6
"""An AUROC below this is "at chance": a transform that ranks one group above the other in fewer than
60% of pairs carries (almost) no signal. Used for the Why page's reading and by the ``auto`` rule
(core.selection), so both call the same transforms useless."""

INVARIANCE_LIFT = 2.0
"""A relation drawing more than this many times its even share of the normal images' confusion (see
RelationShare) is read as an invariance of the class; less is what a spread-out confusion gives."""

_TURNS = {1: "quarter turn", 2: "half turn", 3: "quarter turn"}


def auroc_rows(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """AUROC of ``positives`` against ``negatives`` along the last axis, one per leading index.

    The Mann-Whitney statistic, ties counted half, vectorised over rows: float16 probabilities tie
    often, and a transform the classifier never recognises (all zeros) then scores exactly 0.5.
    """
    pos, neg = np.asarray(positives, np.float64), np.asarray(negatives, np.float64)
    lead = np.broadcast_shapes(pos.shape[:-1], neg.shape[:-1])
    pos, neg = np.broadcast_to(pos, (*lead, pos.shape[-1])), np.broadcast_to(neg, (*lead, neg.shape[-1]))
    n1, n2 = pos.shape[-1], neg.shape[-1]
    if n1 == 0 or n2 == 0:
        raise ValueError("an AUROC needs at least one positive and one negative")
    ranks = rankdata(np.concatenate([pos, neg], axis=-1), axis=-1)
    return (ranks[..., :n1].sum(-1) - n1 * (n1 + 1) / 2) / (n1 * n2)


def relation_label(r: Transform) -> str:
    """What relates two transforms, in words: ``flip + half turn``, ``shift``, ``quarter turn``..."""
    parts = (["flip"] if r.flip else []) + ([_TURNS[r.rot % 4]] if r.rot % 4 else []) \
        + (["shift"] if r.shift_rows or r.shift_cols else [])
    return " + ".join(parts) or "same"


@dataclass(frozen=True)
class ConfusedPair:
    """Two transforms the classifier mixes up on normal images."""

    applied: int  # images transformed by this one...
    taken_for: int  # ...are taken for this one
    probability: float  # mean p(taken_for | T_applied(x)) over the normal test images
    reverse: float  # and the other way round, mean p(applied | T_taken_for(x))
    relation: Transform  # R with T_taken_for(x) = T_applied(R(x)): the class looks alike under R

    @property
    def label(self) -> str:
        return relation_label(self.relation)


def confused_pairs(mean_softmax: np.ndarray, transforms: TransformSet, top: int = 8) -> list[ConfusedPair]:
    """The ``top`` largest off-diagonal entries of a mean softmax matrix, each unordered pair once."""
    m = np.asarray(mean_softmax, np.float64)
    off = m - np.diag(np.diag(m))
    pairs: list[ConfusedPair] = []
    seen: set[frozenset[int]] = set()
    for flat in np.argsort(-off, axis=None, kind="stable"):
        a, b = divmod(int(flat), len(m))
        if len(pairs) == top or off[a, b] <= 0:
            break
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            pairs.append(ConfusedPair(a, b, float(m[a, b]), float(m[b, a]),
                                      relation(transforms[a], transforms[b])))
    return pairs


@dataclass(frozen=True)
class RelationShare:
    """How much of the normal images' confusion goes to transform pairs related one way."""

    label: str  # relation_label of the pairs
    share: float  # of the off-diagonal probability of the mean softmax matrix
    even: float  # what the share would be if the confusion were spread evenly: the pairs' share of all pairs


def confusion_by_relation(mean_softmax: np.ndarray, transforms: TransformSet) -> list[RelationShare]:
    """Where the classifier's doubt goes on normal images, per relation, largest share first; ``even``
    tells a real invariance (many times its even share) from a relation that merely relates many pairs."""
    m = np.asarray(mean_softmax, np.float64)
    k = len(m)
    mass: dict[str, float] = {}
    pairs: dict[str, int] = {}
    for a in range(k):
        for b in range(k):
            if a != b:
                key = relation_label(relation(transforms[a], transforms[b]))
                mass[key] = mass.get(key, 0.0) + m[a, b]
                pairs[key] = pairs.get(key, 0) + 1
    total = sum(mass.values())
    if total <= 0:
        return []
    shares = [RelationShare(key, mass[key] / total, pairs[key] / (k * (k - 1))) for key in mass]
    return sorted(shares, key=lambda r: -r.share)


def transform_auroc(scores: RunScores, anomalies: np.ndarray | None = None) -> np.ndarray:
    """(k,) AUROC of each transform alone: its probability of the right transform, normal test images
    against the anomalies (all, or those selected by the boolean mask ``anomalies``)."""
    if scores.correct_prob is None:
        raise ValueError("this run's scores.npz has no per-image, per-transform probabilities (correct_prob)")
    p = np.asarray(scores.correct_prob, np.float64)
    chosen = ~scores.is_normal if anomalies is None else anomalies & ~scores.is_normal
    return auroc_rows(p[scores.is_normal].T, p[chosen].T)


def class_transform_auroc(scores: RunScores) -> tuple[list[int], np.ndarray]:
    """The anomalous classes and a (classes, k) matrix: each transform's AUROC against each class alone."""
    classes = [int(c) for c in np.unique(scores.labels[~scores.is_normal])]
    return classes, np.stack([transform_auroc(scores, scores.labels == c) for c in classes])


@dataclass(frozen=True)
class Diagnosis:
    """Everything the Why page shows about one run, computed once."""

    names: list[str]  # the run's transform names, in label order
    recognised: np.ndarray  # (k,) mean p(right transform) of the normal test images
    pairs: list[ConfusedPair]  # the most confused transform pairs on normal images
    by_relation: list[RelationShare]  # the confusion per relation, largest share first
    class_auroc: dict[str, dict[int, float]]  # score method -> anomalous class -> AUROC
    transform_auroc: np.ndarray | None  # (k,) AUROC of each transform alone; None without correct_prob
    classes: list[int]  # the anomalous classes, rows of class_transform_auroc
    class_transform_auroc: np.ndarray | None  # (classes, k); None without correct_prob

    @property
    def no_signal(self) -> list[int]:
        """Transforms whose AUROC alone is below CHANCE_AUROC, in label order (none without the data)."""
        return [] if self.transform_auroc is None else [int(t) for t in np.flatnonzero(self.transform_auroc
                                                                                       < CHANCE_AUROC)]


def diagnose(scores: RunScores, transforms: TransformSet, top_pairs: int = 8) -> Diagnosis:
    """The Why page's numbers for a run with normal and anomalous test images (ValueError otherwise)."""
    if not has_both_groups(scores.is_normal):
        raise ValueError("the run's test set needs normal and anomalous images to say why it fails")
    if scores.mean_softmax_normal is None:
        raise ValueError("this run's scores.npz has no mean softmax matrices")
    normal = np.asarray(scores.mean_softmax_normal, np.float64)
    if normal.shape != (len(transforms),) * 2:
        raise ValueError(f"the scores hold {normal.shape[0]} transforms, the run's config {len(transforms)}")
    has_per_image = scores.correct_prob is not None
    classes, per_class = class_transform_auroc(scores) if has_per_image else ([], None)
    return Diagnosis(
        names=transforms.names, recognised=np.diag(normal).copy(),
        pairs=confused_pairs(normal, transforms, top_pairs), by_relation=confusion_by_relation(normal, transforms),
        class_auroc={m: auroc_per_class(scores.labels, scores.is_normal, scores.score(m))
                     for m in ("dirichlet", "simple") if m in scores.by_method},
        transform_auroc=transform_auroc(scores) if has_per_image else None,
        classes=classes, class_transform_auroc=per_class)


def _listed(names: list[str], most: int = 6) -> str:
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def reading(d: Diagnosis, normal_label: str, class_label: Callable[[int], str]) -> str:
    """One paragraph that reads the diagnosis out, every number taken from it."""
    k = len(d.names)
    text = [f"Normal {normal_label} test images put {d.recognised.mean():.2f} of the probability on the right "
            f"transform on average (chance: {1 / k:.2f})."]
    if d.pairs and d.by_relation:
        top = d.by_relation[0]
        twin = next((p for p in d.pairs if p.label == top.label), d.pairs[0])
        verdict = (f"the class looks alike under a {top.label}" if top.share > INVARIANCE_LIFT * top.even
                   else "no more than the number of such pairs explains, so no invariance stands out")
        text.append(f"Normal {normal_label}s are most often confused with their {top.label} twins ({top.share:.0%} "
                    f"of the rest of the probability, {top.even:.0%} if it were spread evenly; e.g. "
                    f"{d.names[twin.applied]} taken for {d.names[twin.taken_for]}, {twin.probability:.2f}): {verdict}.")
    if d.transform_auroc is not None:
        useless = d.no_signal
        best = int(np.argmax(d.transform_auroc))
        if useless:
            text.append(f"{len(useless)} of {k} transforms separate normal images from anomalies no better than "
                        f"AUROC {CHANCE_AUROC:.2f} on their own, so they carry (almost) no signal: "
                        f"{_listed([d.names[t] for t in useless])}.")
        else:
            text.append(f"Every transform separates normal images from anomalies on its own (AUROC "
                        f"{CHANCE_AUROC:.2f} or more).")
        text.append(f"The best single transform, {d.names[best]}, reaches {d.transform_auroc[best]:.2f}.")
    dirichlet, simple = d.class_auroc.get("dirichlet", {}), d.class_auroc.get("simple", {})
    if dirichlet:
        worst = min(dirichlet, key=dirichlet.get)
        versus = f", simplified {simple[worst]:.2f}" if worst in simple else ""
        text.append(f"The hardest anomaly class is {class_label(worst)} (Dirichlet AUROC {dirichlet[worst]:.2f}"
                    f"{versus}).")
        if simple:
            wins = sum(dirichlet[c] > simple[c] for c in dirichlet if c in simple)
            text.append(f"The Dirichlet score beats the simplified one on {wins} of {len(dirichlet)} anomaly classes.")
    return " ".join(text)
