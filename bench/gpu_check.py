"""One command for a lent GPU: the overhead benchmark and the paper's protocol on one class, as JSON.

A GPU may be lent to a session for 15 minutes in all, starts included, so everything worth
measuring there runs in one call that ends well inside 8 minutes on one H200:

1. ``bench.overhead`` on the device with the paper's WRN-10-4: training step and scoring pass
   against the bare model (images/s and ratios);
2. the ``paper`` preset on one Fashion-MNIST class, whole test set (``core.experiment``), with
   seconds per phase and AUROC;
3. peak GPU memory.

It prints one JSON line (also written to ``--json`` when given). ``--smoke`` runs the same code
path on the CPU with the ``tiny`` preset on ``digits`` in seconds, which CI does.

    python -m bench.gpu_check --smoke                                        # anywhere

On the lent machine (its image has torch, scipy, scikit-learn and Pillow; only this repository
travels, 64 MiB at most), carry Fashion-MNIST gzipped (31 MB). Here, once:

    echo /.gpu_data/ >> .git/info/exclude && mkdir -p .gpu_data/FashionMNIST/raw
    for f in ../shared/data/FashionMNIST/raw/*-ubyte; do gzip -c $f > .gpu_data/FashionMNIST/raw/$(basename $f).gz; done

then one device call, carry [".gpu_data"], timeout 540 s:

    gunzip -kf .gpu_data/FashionMNIST/raw/*.gz && PYTHONUNBUFFERED=1 python3 -m bench.gpu_check \
        --data-dir .gpu_data --json $OUT/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.overhead import measure
from core.experiment import RunRequest, run_one_class
from core.train import resolve_device


def protocol_run(dataset: str, normal_class: int, preset: str, device: str, data_dir: str | None) -> dict[str, Any]:
    """Train, fit and score one class exactly as ``python -m core run`` does, in a throwaway folder."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        request = RunRequest(dataset, normal_class, preset, seed=0, device=device, data_dir=data_dir, out=out)
        run = run_one_class(request)
        wall = time.perf_counter() - start
    meta, metrics = run.meta, run.metrics
    return {
        "dataset": meta["dataset"], "normal_class": meta["class_label"], "preset": preset,
        "precision": meta.get("precision"), "n_train": meta["n_train"], "n_test": meta["n_test"],
        "train_seconds": meta["train_seconds"], "score_seconds": meta["score_seconds"],
        "wall_seconds_with_loading": round(wall, 1),
        "auroc_dirichlet": round(metrics["dirichlet"]["auroc"], 4),
        "auroc_simple": round(metrics["simple"]["auroc"], 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny preset on digits: checks the code path in seconds")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default=None, help="holds FashionMNIST/raw/ (default: GEOM_DATA_DIR)")
    ap.add_argument("--normal-class", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the summary to this file")
    args = ap.parse_args()
    device = resolve_device("cpu" if args.smoke else args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    summary: dict[str, Any] = {"device": name, "torch": torch.__version__, "smoke": args.smoke}
    start = time.perf_counter()
    summary["overhead"] = measure(device, width=1 if args.smoke else 4, channels=1, steps=2 if args.smoke else 20,
                                  rounds=1 if args.smoke else 5)
    summary["overhead_seconds"] = round(time.perf_counter() - start, 1)
    dataset, preset = ("digits", "tiny") if args.smoke else ("fashion_mnist", "paper")
    summary["protocol"] = protocol_run(dataset, args.normal_class, preset, str(device), args.data_dir)
    if device.type == "cuda":
        summary["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2)
    summary["total_seconds"] = round(time.perf_counter() - start, 1)
    line = json.dumps(summary)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()
