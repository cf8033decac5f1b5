"""The Out-of-distribution page's figures, from scores built here (no training)."""

from __future__ import annotations

import numpy as np

from core.ood import OodScores
from explorer.figures.ood import extreme_gallery, ood_roc
from explorer.figures.style import METHOD_COLORS


def synthetic_scores(n_in: int = 30, n_out: int = 20, gallery: int = 4) -> OodScores:
    """GEOM separates the two sides, MSP half does, ODIN is noise; galleries of ``gallery`` images."""
    rng = np.random.default_rng(0)
    is_in = np.r_[np.ones(n_in, bool), np.zeros(n_out, bool)]
    geom = np.r_[rng.uniform(0.6, 1.0, n_in), rng.uniform(0.0, 0.4, n_out)]
    order = np.argsort(-geom, kind="stable")
    n = n_in + n_out
    images = rng.integers(0, 256, (n, 32, 32, 1), dtype=np.uint8)
    return OodScores(np.arange(n), is_in, np.r_[np.arange(n_in) % 3, np.full(n_out, -1)],
                     {"geom": geom, "msp": geom + rng.normal(0, 0.4, n), "odin": rng.normal(size=n)},
                     np.arange(5), np.arange(5), order[:gallery], images[order[:gallery]], order[::-1][:gallery],
                     images[order[::-1][:gallery]], None)


def test_ood_roc_draws_the_three_scores_with_their_aurocs_and_the_papers() -> None:
    fig = ood_roc(synthetic_scores(), {"geom": 95.7, "odin": 92.1})
    names = [t.name for t in fig.data]
    assert names[0] == "chance (50.0)" and len(names) == 4
    assert names[1] == "GEOM (transform head): 100.0 (paper 95.7)"
    assert names[2].startswith("max softmax (MSP): ") and "paper" not in names[2]
    assert names[3].startswith("ODIN: ") and names[3].endswith("(paper 92.1)")
    assert fig.layout.xaxis.title.text == "false positive rate (OOD images called in-distribution)"
    assert fig.layout.yaxis.title.text == "true positive rate (in-distribution called in-distribution)"
    assert [t.line.color for t in fig.data[1:]] == [METHOD_COLORS[m] for m in ("geom", "msp", "odin")]


def test_extreme_galleries_caption_each_image_with_its_side_and_score() -> None:
    scores = synthetic_scores()
    top = extreme_gallery(scores, True, [f"class {i}" for i in range(3)])
    bottom = extreme_gallery(scores, False, [f"class {i}" for i in range(3)])
    assert len(top.data) == 1 and len(top.layout.annotations) == 4
    assert top.layout.title.text == "The 4 most in-distribution by GEOM's score"
    assert all(a.text.startswith("in: class") for a in top.layout.annotations)
    assert all(a.text.startswith("OOD") for a in bottom.layout.annotations)
    first = scores.by_method["geom"][scores.most_in_positions[0]]
    assert top.layout.annotations[0].text.replace("<br>", " ").endswith(f"{first:.3f}")
