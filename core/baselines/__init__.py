"""The method registry: GEOM and the paper's baselines, all behind one detector interface.

``DETECTORS`` maps every method name (also the run folder's ``<method>`` level) to its
:class:`core.base_detector.BaseDetector` class, GEOM first; ``METHODS`` holds the baselines:

============================  ===========================================================
raw-ocsvm-hindsight           RBF OC-SVM on pixels, nu/gamma picked by test AUROC (the paper)
raw-ocsvm-fair                RBF OC-SVM on pixels, gamma='scale', nu=0.1 (no test labels)
cae-ocsvm-hindsight           OC-SVM on a DCGAN-like autoencoder's bottleneck, hindsight grid
cae-ocsvm-fair                the same, fair parameters
deep-svdd                     One-Class Deep SVDD (Ruff et al. 2018), the paper's E2E column
dsebm                         deep structured energy-based model (Zhai et al. 2016): energy of the CAE encoder
dagmm                         deep autoencoding Gaussian mixture (Zong et al. 2018): energy under a fitted GMM
adgan                         a WGAN-GP's generator (Deecke et al. 2018): reconstruction loss after a latent search
============================  ===========================================================

Aliases expand to several methods: ``raw-ocsvm`` and ``cae-ocsvm`` to both modes, ``baselines`` to
all of them. Everything a table or ``reproduce`` needs of a method (title, the paper's column,
how many seeds, its score's key, how to run it) is a class attribute of its detector.
"""

from __future__ import annotations

from typing import Any

from core.base_detector import BaseDetector
from core.baselines.adgan import ADGAN
from core.baselines.common import (
    SCORE_KEY,
    Baseline,
    BaselineConfig,
    BaselineFitError,
    read_checkpoint,
    run_baseline,
)
from core.baselines.dagmm import DAGMM
from core.baselines.deep_svdd import DeepSVDD
from core.baselines.dsebm import DSEBM
from core.baselines.ocsvm import CAEOCSVMFair, CAEOCSVMHindsight, RawOCSVMFair, RawOCSVMHindsight
from core.detector import GeomDetector
from core.runs import MODEL_FILE, RunInfo, one_class_refusal

METHODS: dict[str, type[Baseline]] = {
    cls.method: cls
    for cls in (RawOCSVMHindsight, RawOCSVMFair, CAEOCSVMHindsight, CAEOCSVMFair, DeepSVDD, DSEBM, DAGMM, ADGAN)
}
GEOM = GeomDetector.method
DETECTORS: dict[str, type[BaseDetector]] = {GEOM: GeomDetector, **METHODS}
ALIASES: dict[str, tuple[str, ...]] = {
    "raw-ocsvm": ("raw-ocsvm-hindsight", "raw-ocsvm-fair"),
    "cae-ocsvm": ("cae-ocsvm-hindsight", "cae-ocsvm-fair"),
    "baselines": tuple(METHODS),
}
ALL_METHODS: tuple[str, ...] = tuple(DETECTORS)

__all__ = ["ALIASES", "ALL_METHODS", "DETECTORS", "GEOM", "METHODS", "SCORE_KEY", "Baseline", "BaselineConfig",
           "BaselineFitError", "detector_class", "get_method", "load_baseline", "load_run_detector", "parse_methods",
           "paper_method", "method_title", "run_baseline"]


def _valid() -> str:
    return ", ".join(ALL_METHODS) + f" (aliases: {', '.join(ALIASES)})"


def get_method(name: str) -> type[Baseline]:
    """The baseline class for ``name``; an unknown name lists the valid ones."""
    try:
        return METHODS[name]
    except KeyError:
        hint = f" ({name} is not a baseline: use core.experiment.run_one_class)" if name in DETECTORS else ""
        raise ValueError(f"unknown baseline {name!r}{hint}; valid baselines: {', '.join(METHODS)}") from None


def detector_class(name: str) -> type[BaseDetector]:
    """The detector class of any method, GEOM included; an unknown name lists the valid ones."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; valid methods: {_valid()}") from None


def parse_methods(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"geom,raw-ocsvm"`` -> ``["geom", "raw-ocsvm-hindsight", "raw-ocsvm-fair"]`` (order kept, no repeats)."""
    names = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    if not names:
        raise ValueError(f"no methods given; valid methods: {_valid()}")
    out: list[str] = []
    for name in names:
        key = name.lower()
        expanded = ALIASES.get(key, (key,))
        for m in expanded:
            if m not in ALL_METHODS:
                raise ValueError(f"unknown method {name!r}; valid methods: {_valid()}")
            if m not in out:
                out.append(m)
    return out


def paper_method(method: str) -> str:
    """The paper's column for a method (both OC-SVM modes compare with the paper's hindsight column)."""
    return detector_class(method).paper_method


def method_title(method: str) -> str:
    return detector_class(method).title


def load_baseline(path, device: str = "auto") -> Baseline:
    """Open any baseline checkpoint (the model.pt of a baseline run folder)."""
    state = read_checkpoint(path)
    return get_method(state["method"]).load(path, device)


def load_run_detector(run: RunInfo, device: str = "auto", **load_options: Any) -> BaseDetector:
    """The detector a run folder saved, whatever its method; ValueError (an out-of-distribution run),
    FileNotFoundError or CheckpointError saying why not. ``load_options`` go to the method's ``load``
    (GEOM's ``precision``, say)."""
    refusal = one_class_refusal(run, "be loaded as a detector")
    if refusal:
        raise ValueError(refusal)
    if not run.model_path.is_file():
        raise FileNotFoundError(f"{run.path} has no {MODEL_FILE}: it was saved without its model, so nothing can be "
                                "scored with it; train the run again")
    return detector_class(run.meta.get("method", GEOM)).load(run.model_path, device, **load_options)
