"""The teaching notebook: committed clean, parameters cell tagged, runs end to end, bad input stops early.

The notebook is executed the way papermill does it: a cell tagged ``injected-parameters`` holding
the overrides goes right after the cell tagged ``parameters``. The kernel runs in a temporary
folder, so it finds the repository through PYTHONPATH and writes its run under a temporary
GEOM_RESULTS_DIR.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.config import PRESETS, preset_config
from core.data import DataError, load_dataset, parse_class
from core.detector import CheckpointError
from core.runs import write_run
from explorer.notebooks.notebook_params import BUDGETS, check_parameters

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "explorer" / "notebooks" / "transform_invariance.ipynb"
PARAMETERS = ("dataset", "normal_class", "preset", "device", "data_dir", "run_dir", "seed")
CELL_TIMEOUT_S = int(os.environ.get("GEOM_NOTEBOOK_CELL_TIMEOUT", "300"))  # per cell; raise it on a very busy machine

nbformat = pytest.importorskip("nbformat")


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def parameters_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))


def with_parameters(nb, **params):
    """Insert a papermill-style ``injected-parameters`` cell after the ``parameters`` cell."""
    cell = nbformat.v4.new_code_cell("\n".join(f"{name} = {value!r}" for name, value in params.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(parameters_index(nb) + 1, cell)
    return nb


def execute(nb, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    """Run every cell in a fresh python3 kernel started in ``workdir``; raises CellExecutionError."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(workdir / "results"))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    return client.execute()


# ----- the committed file ------------------------------------------------------------------------------
def test_committed_without_outputs_or_execution_counts():
    nb = read_notebook()
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    dirty = [c.get("id", i) for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not dirty, f"cells with outputs or execution counts (clear them before committing): {dirty}"


def test_first_code_cell_is_the_tagged_parameters_cell():
    nb = read_notebook()
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    tree = ast.parse(first.source)
    assert all(isinstance(node, ast.Assign) for node in tree.body), "the parameters cell holds only assignments"
    names = {t.id for node in tree.body for t in node.targets}
    assert set(PARAMETERS) <= names
    values = {t.id: ast.literal_eval(node.value) for node in tree.body for t in node.targets}
    assert values["dataset"] == "digits" and values["run_dir"] is None  # works offline, trains by default


def test_every_preset_has_a_budget():
    assert set(BUDGETS) == set(PRESETS)
    assert BUDGETS["tiny"].short and not BUDGETS["quick"].short


# ----- the parameters check: the command line's messages ----------------------------------------------
def message(fn, *args) -> str:
    with pytest.raises(Exception) as info:
        fn(*args)
    return str(info.value)


def test_unknown_dataset_class_and_preset_give_core_messages():
    digits = load_dataset("digits")
    with pytest.raises(DataError) as info:
        check_parameters("no_such_dataset", 3, "tiny")
    assert str(info.value) == message(load_dataset, "no_such_dataset")
    with pytest.raises(DataError) as info:
        check_parameters("digits", 12, "tiny")
    assert str(info.value) == message(parse_class, digits, 12)
    with pytest.raises(DataError) as info:
        check_parameters("digits", "three", "tiny")
    assert str(info.value) == message(parse_class, digits, "three")
    with pytest.raises(ValueError) as info:
        check_parameters("digits", 3, "fast")
    assert str(info.value) == message(preset_config, "fast", 32, 1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        check_parameters("digits", 3, "tiny", seed="0")


def test_errors_render_as_one_line_in_jupyter():
    with pytest.raises(DataError) as info:
        check_parameters("no_such_dataset", 3, "tiny")
    assert info.value._render_traceback_() == [f"DataError: {info.value}"]


def test_good_parameters_resolve():
    setup = check_parameters("digits", "3", "tiny", "cpu", None, None, 1)
    assert (setup.dataset, setup.normal_class, setup.preset, setup.seed) == ("digits", 3, "tiny", 1)
    assert setup.config == preset_config("tiny", 32, 1, seed=1)
    assert setup.run is None and setup.detector is None and setup.budget == BUDGETS["tiny"]


def test_colour_datasets_resolve(real_dataset, shared_data_dir):
    """The parameters cell takes CIFAR-10 by class name, with the colour preset shape."""
    real_dataset("cifar10")
    setup = check_parameters("cifar10", "cat", "tiny", "cpu", str(shared_data_dir))
    assert (setup.dataset, setup.normal_class, setup.class_label) == ("cifar10", 3, "3 - cat")
    assert (setup.config.in_channels, setup.config.image_size) == (3, 32)


def fake_run(path: Path, **meta) -> Path:
    """A run folder without a model: enough for read_run and the configuration check."""
    base = {"method": "geom", "dataset": "digits", "normal_class": 3, "class_label": "3", "preset": "tiny", "seed": 0}
    scores = {"is_normal": np.array([True, False]), "dirichlet": np.zeros(2), "simple": np.zeros(2)}
    return write_run(path, {**base, **meta}, {}, scores).path


def test_run_folder_from_another_configuration_is_refused(tmp_path):
    run = fake_run(tmp_path / "run", normal_class=5, class_label="5", preset="quick")
    with pytest.raises(ValueError) as info:
        check_parameters("digits", 3, "tiny", run_dir=str(run))
    text = str(info.value)
    assert "another configuration" in text and "normal class '5'" in text and "preset 'quick'" in text
    assert "run_dir = None" in text


def test_run_folder_problems_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder"):
        check_parameters("digits", 3, "tiny", run_dir=str(tmp_path / "absent"))
    with pytest.raises(CheckpointError, match="no model.pt"):
        check_parameters("digits", 3, "tiny", run_dir=str(fake_run(tmp_path / "run")))
    with pytest.raises(ValueError, match="not a GEOM run"):
        check_parameters("digits", 3, "tiny", run_dir=str(fake_run(tmp_path / "svdd", method="deep-svdd")))


# ----- executing it ------------------------------------------------------------------------------------
def test_unknown_dataset_stops_at_the_parameters_check(tmp_path, monkeypatch):
    nbclient_exceptions = pytest.importorskip("nbclient.exceptions")
    nb = with_parameters(read_notebook(), dataset="no_such_dataset", preset="tiny", device="cpu")
    with pytest.raises(nbclient_exceptions.CellExecutionError) as info:
        execute(nb, tmp_path, monkeypatch)
    expected = message(load_dataset, "no_such_dataset")
    assert info.value.ename == "DataError" and info.value.evalue == expected
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert len(failed) == 1
    cell = nb.cells[failed[0]]
    assert "check_parameters(" in cell.source  # the cell right after the parameters, nothing later ran
    assert all(not c.outputs for c in nb.cells[failed[0] + 1:] if c.cell_type == "code")
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.traceback == [f"DataError: {expected}"]  # the message alone, not a stack through core


@pytest.mark.slow
def test_runs_end_to_end_with_the_tiny_preset(tmp_path, monkeypatch):
    nb = with_parameters(read_notebook(), preset="tiny", device="cpu")
    start = time.perf_counter()
    execute(nb, tmp_path, monkeypatch)  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    errors = [c.get("id") for c in nb.cells
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert not errors
    figures = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if "application/vnd.plotly.v1+json" in o.get("data", {}))
    assert figures >= 20, f"only {figures} plotly figures were shown"
    curves = next(c for c in nb.cells if c.get("id") == "training-curves")
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in curves.outputs), \
        "the training curves are drawn from the run's history.json"
    runs = list((tmp_path / "results").rglob("run.json"))
    assert len(runs) == 1, "Section 2 saves one run under GEOM_RESULTS_DIR"
    print(f"notebook executed in {seconds:.0f} s (load average {os.getloadavg()[0]:.1f})")
