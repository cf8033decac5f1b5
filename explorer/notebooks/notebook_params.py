"""The teaching notebook's parameters cell, checked with the command line's own messages.

``transform_invariance.ipynb`` (beside this module) starts with a cell of plain assignments (tagged
``parameters``, papermill's convention). :func:`check_parameters` turns them into a :class:`Setup`
by calling core exactly as ``python -m core run`` does, so a wrong value stops the notebook at that
cell with the same message: ``core.config.preset_config`` for the preset, ``core.data.load_dataset``
for the dataset, ``core.data.parse_class`` for the class, ``core.train.resolve_device`` for the
device. A run folder to reuse is read with ``core.runs.read_run`` and refused, with the reason, when
it was trained on another dataset, class or preset, or its checkpoint does not fit.

:class:`Budget` holds how long the notebook's own extra experiments (Section 6 ablations, gradient
ascent, attributions) train or iterate for each preset, so ``tiny`` runs top to bottom in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.ablation import AblationSpec
from core.ascent import PAPER_ASCENT, AscentSettings
from core.cli import USER_ERRORS
from core.config import GeomConfig, preset_config
from core.data import ImageDataset, load_dataset, parse_class
from core.detector import CheckpointError, GeomDetector
from core.explain import ExplainSettings
from core.runs import RunInfo, read_run
from core.train import resolve_device


@dataclass(frozen=True)
class Budget:
    """How much the notebook trains and iterates beyond the main detector, per preset."""

    ablation_steps: int  # optimiser steps of each Section 6 ablation classifier (paper: far more)
    ablation_seeds: tuple[int, ...]  # seeds per ablation (the paper: 5)
    ablation_train_images: int | None  # cap on the normal class's training images (None = all)
    ablation_test_images: int | None  # stratified cap on the two classes' test images (None = all)
    fit_images: int  # normal training images for the ablation / ascent Dirichlet fits
    ascent_train_steps: int  # steps of the Figure 1 classifier (flip x rotations, digit 3)
    ascent_steps: int  # gradient-ascent steps on the input (the paper: 200)
    ig_steps: int  # Integrated Gradients path points
    cases: int  # worst cases shown in the attribution section
    fit_demo_images: int  # normal training images for the by-hand Dirichlet fit in Section 4
    short: bool  # True: the settings are cut short for a fast run, and the notebook says so


BUDGETS: dict[str, Budget] = {
    # A smoke run: every section executes, nothing is trained long enough to mean much.
    "tiny": Budget(ablation_steps=20, ablation_seeds=(0,), ablation_train_images=300, ablation_test_images=200,
                   fit_images=64, ascent_train_steps=20, ascent_steps=20, ig_steps=8, cases=3,
                   fit_demo_images=32, short=True),
    # core's own defaults (core.ablation, core.ascent, core.explain), 3 seeds; also the colour preset's,
    # which changes how long the detector trains, not the side experiments.
    **dict.fromkeys(("quick", "colour"), Budget(
        ablation_steps=AblationSpec.steps, ablation_seeds=(0, 1, 2), ablation_train_images=None,
        ablation_test_images=None, fit_images=500, ascent_train_steps=PAPER_ASCENT.steps,
        ascent_steps=AscentSettings.steps, ig_steps=ExplainSettings.n_steps, cases=4, fit_demo_images=200,
        short=False)),
    # On a GPU: longer ablation training and the paper's 5 seeds.
    "paper": Budget(ablation_steps=1000, ablation_seeds=(0, 1, 2, 3, 4), ablation_train_images=None,
                    ablation_test_images=None, fit_images=500, ascent_train_steps=1500, ascent_steps=200, ig_steps=64,
                    cases=4, fit_demo_images=500, short=False),
}


@dataclass(frozen=True)
class Setup:
    """The checked parameters and what they resolve to."""

    dataset: str  # the dataset's registry name as core reports it (data.name)
    data: ImageDataset
    normal_class: int  # label id
    preset: str
    config: GeomConfig  # the preset's config for this dataset's image shape and the seed
    device: torch.device
    data_dir: str | None
    seed: int
    budget: Budget
    run: RunInfo | None = None  # the run folder to reuse instead of training, when run_dir was given
    detector: GeomDetector | None = None  # its detector, already checked against ``config``

    @property
    def class_label(self) -> str:
        return self.data.class_label(self.normal_class)


def check_parameters(dataset: str, normal_class: int | str, preset: str = "quick", device: str = "auto",
                     data_dir: str | None = None, run_dir: str | None = None, seed: int = 0) -> Setup:
    """Validate the parameters cell; raise core's own error (and message) on the first bad value.

    In Jupyter the error is shown as its one-line message instead of a stack trace through this
    module (the same line ``python -m core`` prints after ``error:``); its type is unchanged.
    """
    try:
        return _check(dataset, normal_class, preset, device, data_dir, run_dir, seed)
    except USER_ERRORS as exc:
        _show_as_message(exc)
        raise


def _check(dataset: str, normal_class: int | str, preset: str, device: str, data_dir: str | None,
           run_dir: str | None, seed: int) -> Setup:
    preset_config(preset, 32, 1)  # an unknown preset fails here, before any data is read
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    data = load_dataset(dataset, data_dir)
    cls = parse_class(data, normal_class)
    dev = resolve_device(device)
    config = preset_config(preset, data.image_size, data.channels, seed=seed)
    setup = Setup(data.name, data, cls, preset, config, dev, data_dir, seed, BUDGETS[preset])
    if run_dir is None or str(run_dir).strip() == "":
        return setup
    run = check_run(run_dir, setup)
    detector = GeomDetector.load(run.model_path, dev, expected=config)
    return replace(setup, run=run, detector=detector)


def check_run(run_dir: str | Path, setup: Setup) -> RunInfo:
    """Read a run folder and refuse it, saying why, when it is not a GEOM run of this configuration."""
    run = read_run(Path(run_dir).expanduser())
    meta = run.meta
    method = meta.get("method", "geom")
    if method != "geom":
        raise ValueError(f"{run.path} is a {method} run, not a GEOM run: point run_dir at a folder under "
                         f"results/geom/, or set run_dir = None to train here")
    differences = []
    if meta.get("dataset") != setup.dataset:
        differences.append(f"dataset {meta.get('dataset')!r} (the parameters say {setup.dataset!r})")
    if meta.get("normal_class") != setup.normal_class:
        differences.append(f"normal class {meta.get('class_label', meta.get('normal_class'))!r} "
                           f"(the parameters say {setup.class_label!r})")
    if meta.get("preset") != setup.preset:
        differences.append(f"preset {meta.get('preset')!r} (the parameters say {setup.preset!r})")
    if differences:
        raise ValueError(f"the run folder {run.path} is from another configuration: it was trained with "
                         f"{'; '.join(differences)}. Change the parameters to match the run, or set "
                         f"run_dir = None to train a detector here.")
    if not run.model_path.is_file():
        raise CheckpointError(f"{run.path} has no model.pt, so its detector cannot be reused; "
                              "set run_dir = None to train one here")
    return run


def _show_as_message(exc: BaseException) -> None:
    """Make IPython print ``Type: message`` for this exception instead of the whole stack.

    IPython renders an exception through its ``_render_traceback_`` method when it has one; the
    exception's type, message and chaining stay as they are for any other caller.
    """
    text = f"{type(exc).__name__}: {exc}"
    try:
        exc._render_traceback_ = lambda: [text]  # type: ignore[attr-defined]
    except AttributeError:  # an exception type with __slots__: keep the normal traceback
        pass
