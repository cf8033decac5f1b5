"""bench.export_speed on the tiny run: ONNX Runtime and PyTorch both score, and one JSON line says how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.export import EXPORT_PACKAGES

ROOT = Path(__file__).resolve().parents[2]


def test_prints_one_json_line_of_throughputs(tiny_run) -> None:
    for name in EXPORT_PACKAGES:
        pytest.importorskip(name, reason=f"{name} is not installed (pip install -r requirements-export.txt)")
    proc = subprocess.run([sys.executable, "-m", "bench.export_speed", "--run", str(tiny_run.path), "--images", "8",
                           "--rounds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    speeds = result["transformed_images_per_s"]
    assert "onnxruntime" in speeds and "torch_fp32" in speeds and all(v > 0 for v in speeds.values())
    assert result["transformed_images"] >= 8 * 72 and "digits test images" in result["images"]
    assert set(result["onnx_vs_torch"]) == set(speeds) - {"onnxruntime"}
