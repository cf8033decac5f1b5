"""`python -m core reproduce` and `python -m core baseline` (core/cli/reproduce.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, tables = tmp_path / "runs", tmp_path / "tables"
    code = main(["reproduce", "--dataset", "digits", "--methods", "raw-ocsvm-fair", "--preset", "tiny",
                 "--classes", "0,1", "--out", str(out), "--tables-dir", str(tables), "--device", "cpu"])
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["trained"] == 2 and (tables / "digits_tiny_aupr_out.csv").is_file()
    assert "| class | RAW-OC-SVM (fair) ours |" in captured.out
    assert main(["baseline", "--method", "svm", "--dataset", "digits", "--normal-class", "0"]) == 2
    assert "valid baselines: raw-ocsvm-hindsight" in capsys.readouterr().err
    code = main(["baseline", "--method", "raw-ocsvm-fair", "--dataset", "digits", "--normal-class", "2",
                 "--preset", "tiny", "--out", str(out), "--device", "cpu"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and line["method"] == "raw-ocsvm-fair" and line["auroc"] > 0.8


def test_reproduce_runs_dsebm_and_dagmm_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The energy baselines go through reproduce like every method: run folders, tables, reloadable models."""
    import numpy as np

    from core.baselines import load_run_detector
    from core.data import load_dataset
    from core.runs import find_runs

    out, tables = tmp_path / "runs", tmp_path / "tables"
    code = main(["reproduce", "--dataset", "digits", "--methods", "dsebm,dagmm", "--preset", "tiny",
                 "--classes", "3", "--out", str(out), "--tables-dir", str(tables), "--device", "cpu"])
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["trained"] == 2 and summary["failed"] == 0
    assert "| class | DSEBM ours | DAGMM ours |" in captured.out
    x_test = load_dataset("digits").x_test
    for method in ("dsebm", "dagmm"):
        (run,) = find_runs(out, method=method)
        assert run.path == out / method / "digits" / "3" / "tiny-seed0"
        assert run.meta["paper_method"] == method and run.metrics["score"]["auroc"] > 0.5
        saved = run.scores()
        again = load_run_detector(run, "cpu").score(x_test[saved["test_index"]])
        np.testing.assert_array_equal(again, saved["score"])


def test_reproduce_runs_adgan_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ADGAN goes through reproduce like every method, run once as the paper ran it: one run folder per
    class, the paper's column beside ours, a model that reloads to the same scores."""
    import numpy as np

    from core.baselines import load_run_detector
    from core.data import load_dataset
    from core.runs import find_runs

    out, tables = tmp_path / "runs", tmp_path / "tables"
    code = main(["reproduce", "--dataset", "digits", "--methods", "adgan", "--preset", "tiny", "--runs", "2",
                 "--classes", "3", "--out", str(out), "--tables-dir", str(tables), "--device", "cpu"])
    assert code == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["trained"] == 1 and summary["failed"] == 0
    assert "| class | ADGAN ours |" in captured.out
    (run,) = find_runs(out, method="adgan")
    assert run.path == out / "adgan" / "digits" / "3" / "tiny-seed0"
    assert run.meta["paper_method"] == "adgan" and run.metrics["score"]["auroc"] > 0.5
    saved = run.scores()
    again = load_run_detector(run, "cpu").score(load_dataset("digits").x_test[saved["test_index"]])
    np.testing.assert_array_equal(again, saved["score"])
