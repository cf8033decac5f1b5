"""Figures of the Out-of-distribution page: the three methods' ROC curves on one chart, and the images
at either end of the GEOM score. Plain functions over core.ood's saved scores (no streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.ood.run import OOD_SCORES, OodScores
from explorer.figures.gallery import image_grid
from explorer.figures.results import roc_overlay


def ood_roc(scores: OodScores, paper_auroc: Mapping[str, float] | None = None,
            title: str = "ROC of the three scores (in-distribution = positive)") -> go.Figure:
    """GEOM's, MSP's and ODIN's ROC curves on the run's evaluation images, each AUROC in the legend with
    the paper's beside it where ``paper_auroc`` (method -> %) has one."""
    curves = {key: (scores.is_in, scores.by_method[key]) for key in OOD_SCORES}
    return roc_overlay(curves, title, paper_auroc, titles=OOD_SCORES, positive="in-distribution",
                       negative="OOD images")


def extreme_gallery(scores: OodScores, most_in: bool, class_names: Sequence[str], ncols: int = 6) -> go.Figure:
    """The run's most in-distribution (``most_in``) or most out-of-distribution images by the GEOM score,
    each captioned with its side (its class for an in-distribution image) and its score."""
    positions = scores.most_in_positions if most_in else scores.most_out_positions
    images = scores.most_in_images if most_in else scores.most_out_images
    geom = scores.by_method["geom"][positions]
    captions = [(f"in: {class_names[label]}" if is_in and 0 <= label < len(class_names) else "in" if is_in
                 else "OOD") + f" {score:.3f}"
                for is_in, label, score in zip(scores.is_in[positions], scores.labels[positions], geom, strict=True)]
    which = "most in-distribution" if most_in else "most out-of-distribution"
    return image_grid(np.asarray(images), captions, ncols=ncols, title=f"The {len(positions)} {which} by GEOM's score")
