"""bench.gpu_check's CPU smoke path: the one-command GPU check runs end to end and prints its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_prints_one_json_summary(tmp_path):
    out = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--smoke", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary == json.loads(out.read_text())
    assert summary["overhead"]["train_images_per_s"] > 0 and summary["overhead"]["score_ratio"] > 0
    protocol = summary["protocol"]
    assert protocol["preset"] == "tiny" and protocol["dataset"] == "digits"
    assert 0.5 < protocol["auroc_dirichlet"] <= 1 and protocol["train_seconds"] > 0
