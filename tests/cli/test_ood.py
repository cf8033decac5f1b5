"""``python -m core ood`` end to end on the tiny preset (digits against a folder of PNGs and JPEGs), and
its messages for input it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.ood import OodScores, read_ood_run
from tests.app_fixtures import normal_only_folder, ood_folder


def run_command(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_ood_command_trains_scores_and_writes_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = ood_folder(tmp_path / "other")
    results = tmp_path / "results"
    code, out, err = run_command(["ood", "--in", "digits", "--out", f"folder:{folder}", "--preset", "tiny", "--device",
                                  "cpu", "--results", str(results)], capsys)
    assert code == 0, err
    assert "skipped broken.png" in err and "converted as digits prepares outside images" in err
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["method", "data"] and "FPR@95%TPR" in lines[0]
    assert [line.split()[0] for line in lines[1:4]] == ["GEOM", "max", "ODIN"]
    assert "held-out images" in lines[4]
    summary = json.loads(lines[-1])
    run = read_ood_run(summary["run_dir"])
    assert run.path == results / "ood" / "digits" / "folder-other" / "tiny-seed0"
    for method in ("geom", "msp", "odin"):
        assert set(summary[method]) == {"auroc", "aupr_in", "aupr_out", "fpr95"}
        assert all(0 <= v <= 1 for v in summary[method].values())
        assert summary[method] == {k: round(v, 4) for k, v in run.metrics[method].items()}
    files = {p.name for p in run.path.iterdir()}
    assert {"run.json", "metrics.json", "scores.npz", "model.pt", "history.json"} <= files
    meta = json.loads((run.path / "run.json").read_text())
    assert {"config", "seconds", "odin", "class_accuracy"} <= set(meta)
    scores = OodScores.of(run)
    assert len(scores.index) == meta["n_eval_in"] + meta["n_eval_out"]
    assert all(len(v) == len(scores.index) and np.isfinite(v).all() for v in scores.by_method.values())


def test_an_unlabelled_in_distribution_folder_gets_a_clear_message(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    flat = normal_only_folder(tmp_path / "good")
    code, out, err = run_command(["ood", "--in", f"folder:{flat}", "--out", "digits", "--preset", "tiny",
                                  "--results", str(tmp_path / "results")], capsys)
    assert code == 2 and out == ""
    assert "error:" in err and "has one class (good)" in err and "needs a labelled dataset" in err
    assert "python -m core run" in err  # what to do instead
    assert not (tmp_path / "results" / "ood").exists()


@pytest.mark.parametrize(("out_set", "message"), [
    ("digits", "is the in-distribution set itself"),
    ("folder:{missing}", "no folder at"),
    ("no_such_set", "unknown dataset"),
])
def test_an_unusable_ood_set_gets_a_clear_message(out_set: str, message: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    out_set = out_set.format(missing=tmp_path / "missing")
    code, _, err = run_command(["ood", "--in", "digits", "--out", out_set, "--preset", "tiny", "--results",
                                str(tmp_path / "results")], capsys)
    assert code == 2 and message in err


def test_one_class_commands_refuse_an_ood_run(ood_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image = tmp_path / "x.png"
    image.write_bytes((ood_run.path.parents[4] / "noise" / "img2.png").read_bytes())
    code, _, err = run_command(["score", "--run", str(ood_run.path), str(image)], capsys)
    assert code == 2 and "is an out-of-distribution run" in err and "Out-of-distribution page" in err
