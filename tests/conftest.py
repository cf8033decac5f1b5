"""Shared pytest fixtures and markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds on a 2-core CPU (still run by default)")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real datasets' folder: $GEOM_DATA_DIR if set, else ../shared/data next to the repo.

    The README runs the tests with GEOM_DATA_DIR=../shared/data, which in a clone with no shared/
    beside it names nothing: the tests that need real data skip, saying why, instead of failing
    (or trying a download there). Tests take :func:`real_dataset` to check one dataset is present.
    """
    env = os.environ.get("GEOM_DATA_DIR")
    folder = Path(env).expanduser().resolve() if env else (REPO_ROOT / ".." / "shared" / "data").resolve()
    if not folder.is_dir():
        named = f"GEOM_DATA_DIR={env}" if env else f"{folder} (the default; set GEOM_DATA_DIR)"
        pytest.skip(f"real datasets not found: {named} is not a folder")
    return folder


@pytest.fixture(scope="session")
def real_dataset(shared_data_dir: Path):
    """``real_dataset(name)``: that dataset from :func:`shared_data_dir`, never downloaded; the test
    skips, naming what is missing, when the folder does not hold it."""
    from core.data import DataError, load_dataset

    def load(name: str):
        try:
            return load_dataset(name, shared_data_dir, download=False)
        except DataError:
            pytest.skip(f"real datasets: {name} is not in {shared_data_dir} "
                        "(point GEOM_DATA_DIR at a folder holding it)")

    return load


# ----- a tiny trained run, shared by the app, figure and browser tests --------------------------
TINY_DATASET, TINY_CLASS = "digits", 3


# The modules a run's numbers depend on: a cached tiny run is retrained when any of them changes.
_RUN_MODULES = ("base_detector", "config", "data", "detector", "dirichlet", "experiment", "runs", "selection",
                "threshold", "train", "transforms", "wrn")


def _run_fingerprint() -> str:
    """Hash of the core modules behind run_one_class and of the torch version."""
    import hashlib

    import torch

    h = hashlib.sha256(torch.__version__.encode())
    for name in _RUN_MODULES:
        h.update(name.encode())
        package = REPO_ROOT / "core" / name
        for path in sorted(package.glob("*.py")) if package.is_dir() else [package.with_suffix(".py")]:
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _tiny_run_cache() -> Path | None:
    """$GEOM_TINY_RUN_CACHE (``0`` = no cache) > <core.data.cache_dir()>/test-runs."""
    from core.data import DataError, cache_dir

    env = os.environ.get("GEOM_TINY_RUN_CACHE")
    if env == "0":
        return None
    try:
        return Path(env).expanduser() if env else cache_dir() / "test-runs"
    except DataError:
        return None


def _cached_tiny_run(tmp_path_factory: pytest.TempPathFactory, overrides: tuple = ()):
    """RunInfo of a ``tiny`` run of TINY_CLASS with these config overrides, in a fresh tmp results dir,
    trained once per version of the code (see tiny_run)."""
    import shutil
    from dataclasses import replace

    from core.data import load_dataset
    from core.experiment import RunRequest, run_one_class, run_path
    from core.runs import read_run

    results = tmp_path_factory.mktemp("results")
    request = RunRequest(TINY_DATASET, TINY_CLASS, "tiny", 0, "cpu", None, str(results), overrides)
    cache = _tiny_run_cache()
    if cache is None:
        return run_one_class(request)
    key = cache / _run_fingerprint()
    cached_request = replace(request, out=str(key))
    folder = run_path(cached_request, load_dataset(TINY_DATASET), TINY_CLASS)
    try:
        cached = read_run(folder)
    except (OSError, ValueError):
        import time

        for stale in cache.glob("*") if cache.is_dir() else ():  # older code's runs, never reused again;
            if stale != key and time.time() - stale.stat().st_mtime > 3600:  # recent ones may be another
                shutil.rmtree(stale, ignore_errors=True)  # session's, mid-training
        cached = run_one_class(cached_request)
    relative = cached.path.relative_to(key)
    shutil.copytree(cached.path, results / relative)
    return read_run(results / relative)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    """RunInfo of a ``digits`` class-3 run trained with preset ``tiny``, in a fresh tmp results dir.

    Training takes a minute or two on a busy 2-core CPU, so the run is kept in a cache folder
    (see _tiny_run_cache) keyed by the source of the core modules it depends on and the torch
    version, and copied into the tmp results dir for each session: tests may write beside it
    without touching the cache. ``GEOM_TINY_RUN_CACHE=0`` trains afresh every session.
    """
    return _cached_tiny_run(tmp_path_factory)


SUBSET_TRANSFORMS = "0-23, flip, flip rot180"
"""The transforms of ``subset_run`` (26 of the 72, by number and by name, as --transforms takes them)."""


@pytest.fixture(scope="session")
def subset_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny run, trained with SUBSET_TRANSFORMS instead of the 72: pages must cope with any k."""
    from core.config import preset_config
    from core.selection import parse_transforms

    spec = parse_transforms(SUBSET_TRANSFORMS, preset_config("tiny", 32, 1))
    return _cached_tiny_run(tmp_path_factory, (("transforms", spec),))


@pytest.fixture(scope="session")
def tiny_results_dir(tiny_run) -> Path:
    """The results folder holding ``tiny_run`` (its ``<root>`` in ``<root>/geom/digits/3/...``)."""
    return tiny_run.path.parents[3]


@pytest.fixture
def tiny_results_env(tiny_results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GEOM_RESULTS_DIR at the tiny run's results folder for one test (the app reads it)."""
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tiny_results_dir))
    return tiny_results_dir


@pytest.fixture(scope="session")
def normal_only_run(tmp_path_factory: pytest.TempPathFactory):
    """RunInfo of a ``tiny`` run on a flat folder of digit 3s: normal-only data, so it has no metrics."""
    from core.experiment import RunRequest, run_one_class
    from tests.app_fixtures import normal_only_folder

    root = tmp_path_factory.mktemp("normal-only")
    folder = normal_only_folder(root / "good")
    return run_one_class(RunRequest(f"folder:{folder}", "good", "tiny", 0, "cpu", None, str(root / "results")))


@pytest.fixture(scope="session")
def rot4_det():
    """A tiny fp32 rot4 detector on digit 3 of the offline digits (seconds to train), for the
    gradient-ascent and attribution tests."""
    from core.config import GeomConfig
    from core.data import load_dataset
    from core.detector import GeomDetector

    data = load_dataset("digits")
    cfg = GeomConfig(width=1, transforms="rot4", in_channels=1, steps=6, batch_size=32, fit_images=60, seed=0,
                     precision="fp32")
    return GeomDetector(cfg, "cpu").fit(data.x_train[data.y_train == 3][:120])


# ----- an out-of-distribution run (the paper's Section 5.5), shared by the OOD tests -------------------
@pytest.fixture(scope="session")
def ood_run(tmp_path_factory: pytest.TempPathFactory):
    """RunInfo of ``python -m core ood``'s engine on the ``tiny`` preset: the offline digits against a
    folder of PNGs and JPEGs of many sizes and modes with one corrupt file (tests.app_fixtures.ood_folder).
    Seconds of training; its own results folder is ``ood_run.path.parents[3]``."""
    from core.ood import OodRequest, run_ood
    from tests.app_fixtures import ood_folder

    root = tmp_path_factory.mktemp("ood")
    folder = ood_folder(root / "noise")
    return run_ood(OodRequest("digits", f"folder:{folder}", "tiny", 0, "cpu", None, str(root / "results")))
