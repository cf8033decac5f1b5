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
