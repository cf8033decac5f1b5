"""bench.transform_selection on the offline digits with the tiny preset: one JSON line per (class, seed, set)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs import read_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_all_against_auto_prints_a_line_per_set_and_saves_the_choice(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.transform_selection", "--dataset", "digits", "--classes", "1",
                           "--seeds", "0", "--preset", "tiny", "--device", "cpu", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [(line["class"], line["seed"], line["set"]) for line in lines] == [(1, 0, "all"), (1, 0, "auto")]
    every, auto = lines
    assert every["transforms"] == 72 and 2 <= auto["transforms"] < 72
    for line in lines:
        assert 0 <= line["auroc_dirichlet"] <= 1 and 0 <= line["auroc_simple"] <= 1 and line["seconds"] > 0
    choice = read_run(auto["run_dir"]).meta["transform_selection"]
    assert len(choice["kept"]) == auto["transforms"] and len(choice["kept"]) + len(choice["dropped"]) == 72
    assert all(d["twin"] in choice["kept"] and d["auroc"] < choice["threshold"] for d in choice["dropped"])
    assert "tiny-transformsauto-seed0" in auto["run_dir"] and "tiny-seed0" in every["run_dir"]
    assert "Dirichlet" in proc.stderr  # the table of means


def test_a_bad_class_stops_before_training(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.transform_selection", "--dataset", "digits", "--classes", "12",
                           "--preset", "tiny", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "12" in proc.stderr and not any(tmp_path.rglob("run.json"))
