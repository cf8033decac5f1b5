"""ONNX Runtime against PyTorch: one run's scoring throughput, in transformed images per second.

Both score the same uint8 images (the run's test images, else random ones) to the normality score,
in the detector's own batches (``GeomDetector.score_batch`` images, each expanded k ways): ONNX
Runtime runs the exported fp32 graph (core.export) on the CPU with as many threads as torch uses;
PyTorch runs ``GeomDetector.score`` at the run's precision (bf16 where the CPU has bf16 units) and in
fp32, the graph's own precision (once, where the two are the same). Each figure is the best of
interleaved rounds (bench.overhead.interleaved_best), so a machine that speeds up or slows down
affects all alike. Prints one JSON line.

    python -m bench.export_speed --run results/geom/fashion_mnist/6/quick-seed0 [--images 64] [--rounds 5]

Needs requirements-export.txt. Run it on an idle machine: the figures are throughputs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from bench.overhead import interleaved_best
from core.cli.args import positive_int
from core.cli.common import run_detector
from core.detector import SCORE_METHODS
from core.export import export_onnx, onnx_scores, onnx_session, parity_images
from core.train import resolve_precision


def measure(run_dir: str, n_images: int = 64, rounds: int = 5, method: str = "dirichlet",
            data_dir: str | None = None) -> dict[str, object]:
    """Transformed images per second of ONNX Runtime and of PyTorch (per precision) on one run."""
    fp32, run = run_detector(run_dir, "cpu", action="export", precision="fp32")
    native, _ = run_detector(run_dir, "cpu", action="export")
    precision = str(resolve_precision(native.config.precision, native.device) or "fp32").replace("torch.", "")
    sample = parity_images(run, fp32, n_images, data_dir)
    images = sample.images
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(export_onnx(fp32, Path(tmp) / "graph.onnx", method), threads)
        scorers = {"onnxruntime": lambda: onnx_scores(session, images, fp32.score_batch),
                   f"torch_{precision}": lambda: native.score(images, method)}
        if precision != "fp32":
            scorers["torch_fp32"] = lambda: fp32.score(images, method)
        seconds = interleaved_best(list(scorers.values()), 1, torch.device("cpu"), rounds)
    inputs = len(images) * len(fp32.transforms)
    speeds = {name: round(inputs / s) for name, s in zip(scorers, seconds, strict=True)}
    return {
        "run": str(run.path), "score": method, "images": sample.source, "transformed_images": inputs,
        "batch_images": fp32.score_batch, "threads": threads, "rounds": rounds,
        "transformed_images_per_s": speeds,
        "onnx_vs_torch": {name: round(speeds["onnxruntime"] / v, 3) for name, v in speeds.items()
                          if name != "onnxruntime"},
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    import onnxruntime

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a GEOM run folder")
    ap.add_argument("--images", type=positive_int, default=64,
                    help="images per measurement: about this many test images, class-stratified, or this many "
                         "random ones (default 64)")
    ap.add_argument("--rounds", type=positive_int, default=5, help="interleaved rounds; each figure is the best")
    ap.add_argument("--score", choices=SCORE_METHODS, default="dirichlet")
    ap.add_argument("--data-dir", help="dataset folder (default: $GEOM_DATA_DIR, else ~/.cache/geom/data)")
    args = ap.parse_args()
    print(json.dumps(measure(args.run, args.images, args.rounds, args.score, args.data_dir)))


if __name__ == "__main__":
    main()
