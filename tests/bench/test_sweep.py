"""bench.sweep's smoke path: local and Ray run the same small sweep and one JSON line comes out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_prints_one_json_summary(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed here (pip install -r requirements-ray.txt)")
    out = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, "-m", "bench.sweep", "--smoke", "--workers", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary == json.loads(out.read_text())
    assert summary["jobs"] == 2 and summary["speedup"] > 0
    for backend in ("local", "ray"):
        assert summary[backend]["wall_s"] > 0 and summary[backend]["jobs_per_min"] > 0
        assert len(summary[backend]["auroc"]) == 2
