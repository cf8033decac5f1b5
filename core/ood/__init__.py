"""Out-of-distribution detection with class labels: the paper's Section 5.5.

A WRN with two heads, one over a labelled dataset's categories and one over the 72 transforms, is
trained on both tasks at once; an image is then scored by the transform head alone, with GEOM's
simplified score (how surely the right transform is recognised, averaged over the 72), and compared
with two scores of the class head of the same network: the maximum softmax probability (Hendrycks &
Gimpel 2017) and ODIN (Liang et al. 2018), whose (T, eps) are tuned on held-out images only.

- :mod:`core.ood.config`: :class:`OodConfig` and the presets (paper, quick, tiny)
- :mod:`core.ood.model`: the two-headed network, its training, its checkpoint
- :mod:`core.ood.odin`: MSP, ODIN and ODIN's tuning
- :mod:`core.ood.data`: the in-distribution set, the OOD set made to look like it, the tuning split
- :mod:`core.ood.run`: one run, written as a run folder, and reading such folders back
"""

from core.ood.config import OOD_PRESETS, OodConfig, ood_preset_config
from core.ood.run import OOD_SCORES, OodRequest, OodScores, metric_rows, read_ood_run, run_ood

__all__ = ["OOD_PRESETS", "OOD_SCORES", "OodConfig", "OodRequest", "OodScores", "metric_rows", "ood_preset_config",
           "read_ood_run", "run_ood"]
