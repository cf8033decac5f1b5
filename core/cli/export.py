"""``python -m core export``: a GEOM run's detector as one ONNX graph, checked against PyTorch.

    python -m core export --run results/geom/fashion_mnist/6/quick-seed0
    python -m core export --run results/geom/digits/3/tiny-seed0 --score simple --out exports/digits3.onnx

The graph (core.export) takes uint8 images N x H x W x C and returns the normality score. The
command then scores test images of the run's dataset (random images where the dataset is not here)
with ONNX Runtime and with PyTorch, prints the parity figures and, last, one JSON line; it exits
with status 1 when the two disagree beyond the stated tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.args import int_at_least
from core.cli.commands import command
from core.cli.common import run_detector
from core.detector import SCORE_METHODS
from core.export import (
    AUROC_DECIMALS,
    EXPORT_FORMATS,
    INPUT_NAME,
    SCORE_TOLERANCE,
    ParityReport,
    check_parity,
    export_onnx,
    onnx_session,
    parity_images,
    require_export_packages,
)

DEFAULT_FILE = "model.onnx"
"""Written into the run folder, beside model.pt, unless --out names another file."""


def add_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="a GEOM run folder (its model.pt)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0], help="the file format (ONNX only)")
    p.add_argument("--out", help=f"the file to write (default: RUN/{DEFAULT_FILE}); a missing folder is created")
    p.add_argument("--score", choices=SCORE_METHODS, default="dirichlet",
                   help="the normality score the graph returns (default: dirichlet)")
    p.add_argument("--parity-images", type=int_at_least(2), default=500,
                   help="test images scored by both ONNX Runtime and PyTorch (class-stratified; default 500)")
    p.add_argument("--data-dir", help="dataset folder (default: $GEOM_DATA_DIR, else ~/.cache/geom/data)")


@command("export", "write a GEOM run's detector as one ONNX graph (uint8 images -> normality score), "
                   "checked against PyTorch")(add_export_args)
def export_command(args: argparse.Namespace) -> int:
    det, run = run_detector(args.run, "cpu", action="export (the graph is GEOM's transform classifier and score)",
                            precision="fp32")
    require_export_packages()
    out = Path(args.out) if args.out else run.path / DEFAULT_FILE
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder: name the .onnx file to write")
    export_onnx(det, out, args.score)
    c, h, w = det.input_shape
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB): uint8 images (N, {h}, {w}, {c}) -> float64 "
          f"{args.score} score (N,), higher = more normal")
    sample = parity_images(run, det, args.parity_images, args.data_dir)
    report = check_parity(onnx_session(out), det, sample, args.score)
    print(parity_text(report))
    print(json.dumps({"out": str(out), "format": args.format, "score": args.score, "run": str(run.path),
                      "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": ["N", h, w, c]},
                      "parity": report.to_json()}))
    if not report.passed:
        print("error: the ONNX graph does not match PyTorch within the tolerance (figures above)", file=sys.stderr)
        return 1
    return 0


def parity_text(r: ParityReport) -> str:
    """The parity figures for people; the JSON line holds the same numbers."""
    d = AUROC_DECIMALS
    auroc = (f"AUROC PyTorch {r.auroc_torch:.{d}f}, ONNX {r.auroc_onnx:.{d}f}" if r.auroc_torch is not None
             else "no labels: ranking compared by order alone")
    return (f"parity on {r.source}:\n"
            f"  max |ONNX - PyTorch| {r.max_abs_diff:.3g} = {r.max_diff_of_range:.2g} of the score range "
            f"(tolerance {SCORE_TOLERANCE:g})\n"
            f"  {auroc}; same order: {'yes' if r.same_order else 'no'}; Kendall {r.kendall:.6f}, "
            f"Spearman {r.spearman:.6f}\n"
            f"  {'passed' if r.passed else 'FAILED'}")
