"""`python -m core score` (core/cli/score.py): rows for good and bad files, CSV / JSON, exit codes,
and one-line refusals of damaged run folders."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.cli import main
from core.data import load_dataset
from core.detector import GeomDetector
from core.images import load_image_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """Good PNGs (two 3s on top, two 0s in a nested folder), a truncated JPEG, a text file, a hidden file."""
    root = tmp_path_factory.mktemp("files")
    digits = load_dataset("digits")
    (root / "nested" / "deeper").mkdir(parents=True)
    threes, zeros = np.flatnonzero(digits.y_test == 3)[:2], np.flatnonzero(digits.y_test == 0)[:2]
    for i, index in enumerate(threes):
        Image.fromarray(digits.x_test[index][..., 0]).save(root / f"three{i}.png")
    for i, index in enumerate(zeros):
        Image.fromarray(digits.x_test[index][..., 0]).save(root / "nested" / "deeper" / f"zero{i}.png")
    buf = io.BytesIO()
    Image.fromarray(digits.x_test[0][..., 0]).resize((64, 64)).save(buf, format="JPEG")
    (root / "nested" / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "notes.txt").write_text("not a picture\n")
    (root / ".DS_Store").write_bytes(b"\0\1")  # hidden: skipped inside a folder
    return root


def score(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["score", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_mixed_folder_gives_a_row_per_file_with_reasons_and_exit_1(tiny_run, mixed_folder, tmp_path, capsys) -> None:
    code, out, err = score(capsys, "--run", str(tiny_run.path), str(mixed_folder), "--out", str(tmp_path / "s.csv"),
                           "--batch-size", "2", "--device", "cpu")
    assert code == 1  # some files could not be scored
    with (tmp_path / "s.csv").open() as f:
        rows = {Path(r["path"]).relative_to(mixed_folder).as_posix(): r for r in csv.DictReader(f)}
    assert sorted(rows) == ["nested/cut.jpg", "nested/deeper/zero0.png", "nested/deeper/zero1.png", "notes.txt",
                            "three0.png", "three1.png"]
    assert "truncated" in rows["nested/cut.jpg"]["error"] or "damaged" in rows["nested/cut.jpg"]["error"]
    assert "not an image" in rows["notes.txt"]["error"]
    for name in ("nested/cut.jpg", "notes.txt"):
        assert rows[name]["score"] == rows[name]["anomaly_score"] == rows[name]["verdict"] == ""
    # the good files: the detector's own numbers and verdicts, converted as an upload would be
    det = GeomDetector.load(tiny_run.model_path, "cpu")
    good = ["three0.png", "three1.png", "nested/deeper/zero0.png", "nested/deeper/zero1.png"]
    x = np.stack([load_image_file((mixed_folder / n).read_bytes(), 1, 32, "digits") for n in good])
    expected_score, expected_label = det.score(x), det.predict(x)
    for name, s, label in zip(good, expected_score, expected_label, strict=True):
        assert float(rows[name]["score"]) == pytest.approx(s, rel=1e-9)
        assert float(rows[name]["anomaly_score"]) == pytest.approx(-s, rel=1e-9)
        assert rows[name]["verdict"] == ("anomaly" if label else "normal") and rows[name]["error"] == ""
    assert "zero0.png" in out and "error: This file is not an image" in out  # the table
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["files"], summary["scored"], summary["failed"]) == (6, 4, 2)
    assert summary["anomalies"] == int(expected_label.sum()) and summary["threshold"] == det.threshold_
    assert "6/6 files" in err  # the progress bar


def test_json_out_and_exit_0_when_every_file_scores(tiny_run, mixed_folder, tmp_path, capsys) -> None:
    out_file = tmp_path / "s.json"
    code, _, _ = score(capsys, "--run", str(tiny_run.path), str(mixed_folder / "three0.png"),
                       str(mixed_folder / "nested" / "deeper"), "--out", str(out_file), "--device", "cpu")
    assert code == 0
    rows = json.loads(out_file.read_text())
    assert [Path(r["path"]).name for r in rows] == ["three0.png", "zero0.png", "zero1.png"]
    assert all(set(r) == {"path", "score", "anomaly_score", "verdict", "error"} for r in rows)
    assert all(r["verdict"] in ("normal", "anomaly") and r["score"] == -r["anomaly_score"] for r in rows)


def damaged_copies(run_path: Path, root: Path) -> dict[str, Path]:
    """Copies of a run folder, each damaged one way."""
    runs = {}
    for name in ("garbage", "truncated", "no_model", "newer_format", "newer_config", "bad_run_json"):
        runs[name] = root / name
        shutil.copytree(run_path, runs[name])
    (runs["garbage"] / "model.pt").write_bytes(b"this is not a checkpoint")
    data = (run_path / "model.pt").read_bytes()
    (runs["truncated"] / "model.pt").write_bytes(data[: len(data) // 3])
    (runs["no_model"] / "model.pt").unlink()
    state = torch.load(run_path / "model.pt", weights_only=True)
    torch.save({**state, "format": "geom-detector/9"}, runs["newer_format"] / "model.pt")
    torch.save({**state, "config": {**state["config"], "quantum": True}}, runs["newer_config"] / "model.pt")
    (runs["bad_run_json"] / "run.json").write_text("{")
    return runs


@pytest.mark.parametrize(("damage", "says"), [
    ("garbage", "is not a readable GEOM checkpoint"),
    ("truncated", "is not a readable GEOM checkpoint"),
    ("no_model", "has no model.pt"),
    ("newer_format", "of another version (format 'geom-detector/9'"),
    ("newer_config", "unknown config fields ['quantum']"),
    ("bad_run_json", "has a damaged run.json"),
])
def test_a_damaged_run_folder_is_one_line_saying_which_and_why(tiny_run, mixed_folder, tmp_path, capsys, damage,
                                                                says) -> None:
    run = damaged_copies(tiny_run.path, tmp_path)[damage]
    code, out, err = score(capsys, "--run", str(run), str(mixed_folder / "three0.png"), "--device", "cpu")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0] and str(run) in lines[0]


def test_missing_paths_and_unknown_out_formats_are_named_before_anything_loads(tiny_run, mixed_folder, tmp_path,
                                                                                capsys) -> None:
    code, _, err = score(capsys, "--run", str(tiny_run.path), str(mixed_folder), str(tmp_path / "nowhere.png"))
    assert code == 2 and err.strip() == f"error: no such file or folder: {tmp_path / 'nowhere.png'}"
    (tmp_path / "empty").mkdir()
    code, _, err = score(capsys, "--run", str(tiny_run.path), str(tmp_path / "empty"))
    assert code == 2 and "no files to score in" in err
    code, _, err = score(capsys, "--run", str(tiny_run.path), str(mixed_folder), "--out", str(tmp_path / "s.xlsx"))
    assert code == 2 and "write a .csv or .json file" in err and not (tmp_path / "s.xlsx").exists()


def test_a_baseline_run_scores_without_verdicts(mixed_folder, tmp_path, capsys) -> None:
    from core.baselines import RawOCSVMFair, run_baseline

    run = run_baseline(RawOCSVMFair, "digits", 3, "tiny", 0, "cpu", None, str(tmp_path / "results"))
    code, out, err = score(capsys, "--run", str(run.path), str(mixed_folder / "three0.png"), "--out",
                           str(tmp_path / "b.json"))
    assert code == 0 and "sets no threshold" in err
    (row,) = json.loads((tmp_path / "b.json").read_text())
    assert row["verdict"] == "" and row["score"] == -row["anomaly_score"]
    assert json.loads(out.strip().splitlines()[-1])["anomalies"] is None


@pytest.mark.slow
def test_exit_code_from_the_shell(tiny_run, mixed_folder) -> None:
    res = subprocess.run([sys.executable, "-m", "core", "score", "--run", str(tiny_run.path), str(mixed_folder),
                          "--device", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["failed"] == 2
