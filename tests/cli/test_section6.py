"""`python -m core ablation | ascent | explain` (core/cli/section6.py): JSON lines, files written, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main


def test_cli_ablation_prints_a_json_line(capsys: pytest.CaptureFixture) -> None:
    rc = main(["ablation", "--dataset", "digits", "--normal", "8", "--anomaly", "3", "--transforms", "flip",
               "--seeds", "2", "--steps", "2", "--max-test-images", "60", "--device", "cpu"])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    line = json.loads(out[-1])
    assert line["normal"] == "8" and line["anomaly"] == "3" and line["seeds"] == [0, 1]
    assert 0 <= line["auroc_dirichlet"]["mean"] <= 1 and np.asarray(line["confusion_normal"]).shape == (2, 2)
    assert any(row.startswith("AUROC") and "over 2 seeds" in row for row in out)


@pytest.mark.parametrize("args, message", [
    (["--dataset", "digits", "--normal", "11", "--anomaly", "3"], "out of range"),
    (["--dataset", "digits", "--normal", "8", "--anomaly", "3", "--transforms", "wobble"], "unknown transform set"),
    ([], "give --preset"),
])
def test_cli_ablation_bad_input(args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["ablation", *args, "--seeds", "1", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_cli_ascent_on_a_run(tiny_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    png, npz = tmp_path / "a.png", tmp_path / "a.npz"
    assert main(["ascent", "--run", str(tiny_run.path), "--index", "5", "--steps", "3", "--frame-every", "1",
                 "--out", str(png), "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["index"] == 5 and line["steps"] == 3 and line["simple_after"] >= line["simple_before"]
    assert png.is_file() and png.stat().st_size > 100
    assert main(["ascent", "--run", str(tiny_run.path), "--index", "5", "--steps", "2", "--out", str(npz),
                 "--score", "dirichlet", "--device", "cpu"]) == 0
    with np.load(npz) as z:
        assert z["frames"].shape[0] == 2 and z["curve_dirichlet"].shape == (3, 1)


@pytest.mark.parametrize("args, message", [
    (["--run", "/nonexistent/run", "--index", "0"], "no run folder"),
    (["--run", "{run}", "--index", "999999"], "out of range"),
    (["--run", "{run}"], "--index is required"),
    (["--run", "{run}", "--index", "0", "--out", "x.gif"], ".png or .npz"),
])
def test_cli_ascent_bad_input(tiny_run, args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    args = [a.replace("{run}", str(tiny_run.path)) for a in args]
    assert main(["ascent", *args, "--steps", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_cli_explain_on_a_run(tiny_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "ig.npz"
    assert main(["explain", "--run", str(tiny_run.path), "--index", "7", "--method", "ig", "--steps", "8",
                 "--out", str(out), "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["method"] == "ig" and line["convergence_delta"] is not None
    gap = line["value"] - line["baseline_value"]
    assert line["attribution_sum"] == pytest.approx(gap + line["convergence_delta"], rel=1e-3, abs=1e-3)
    with np.load(out) as z:
        assert z["maps"].shape == (1, 1, 32, 32) and z["image"].shape == (32, 32, 1)
    png = tmp_path / "s.png"
    assert main(["explain", "--run", str(tiny_run.path), "--index", "7", "--method", "saliency", "--transform", "1",
                 "--out", str(png), "--device", "cpu"]) == 0
    assert png.is_file()


def test_cli_explain_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["explain", "--run", str(tmp_path / "missing"), "--index", "0"]) == 2
    assert "no run folder" in capsys.readouterr().err
