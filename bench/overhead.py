"""Overhead of GEOM's virtual self-labelled set: the real training step and scoring pass against
the bare model on a ready-made batch.

Training: sample (image, transform) pairs, gather-transform on the device, forward, backward,
update -- versus forward, backward, update on one fixed, already transformed batch.
Scoring: GeomDetector.softmax_matrix (transform every image k ways, forward, softmax, copy back)
-- versus the forward of the same BN-folded inference model on ready batches of the same size.
Prints both ratios (target >= 0.9), and how much faster the folded model is than the trained one.

    python -m bench.overhead [--device auto] [--width 1] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from core.config import preset_config
from core.detector import GeomDetector
from core.train import (
    MEMORY_FORMAT,
    autocast_context,
    build_model,
    optimise_step,
    pair_batches,
    resolve_device,
    resolve_precision,
)


def timed(fn, repeats: int, device: torch.device) -> float:
    """Seconds per call after two warm-up calls (oneDNN / cuDNN plan on first use)."""
    for _ in range(2):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def interleaved_best(fns: list, repeats: int, device: torch.device, rounds: int = 5) -> list[float]:
    """Best seconds per call of each function, timed in turn round after round, so that a machine
    that speeds up or slows down during the benchmark affects every function alike."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], timed(fn, repeats, device))
    return best


def measure(device: torch.device, width: int = 1, channels: int = 1, steps: int = 20,
            rounds: int = 5) -> dict[str, object]:
    """Throughputs and ratios of the real training step and scoring pass against the bare model."""
    cfg = preset_config("quick", 32, channels, width=width)
    dtype = resolve_precision(cfg.precision, device)
    tset = cfg.transform_set()
    k = len(tset)
    x = (torch.rand(6000, channels, 32, 32) * 2 - 1).to(device)
    model = build_model(cfg).to(device, memory_format=MEMORY_FORMAT)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = pair_batches(len(x), k, cfg.batch_size, 10 ** 9, torch.Generator().manual_seed(0))

    def real_step() -> None:
        idx, labels = next(batches)
        labels = labels.to(device)
        batch = tset.apply(x[idx.to(device)], labels).contiguous(memory_format=MEMORY_FORMAT)
        optimise_step(model, opt, batch, labels, dtype)

    fixed_idx, fixed_labels = next(batches)
    fixed_labels = fixed_labels.to(device)
    fixed_batch = tset.apply(x[fixed_idx.to(device)], fixed_labels).contiguous(memory_format=MEMORY_FORMAT)

    def bare_step() -> None:
        optimise_step(model, opt, fixed_batch, fixed_labels, dtype)

    real_s, bare_s = interleaved_best([real_step, bare_step], steps, device, rounds)

    det = GeomDetector(cfg, device)
    det.model = model.eval()
    per_batch = det.score_batch
    n_images = 4 * per_batch
    images = x[:n_images]
    # The bare model sees the same batches the scorer uses, already transformed.
    ready = [tset.apply_all(images[i:i + per_batch]).contiguous(memory_format=MEMORY_FORMAT)
             for i in range(0, n_images, per_batch)]

    def real_score() -> None:
        det.softmax_matrix(images)

    def bare(net: torch.nn.Module) -> None:
        with torch.inference_mode(), autocast_context(device, dtype):
            for inputs in ready:
                net(inputs)

    folded = det.inference_model()
    repeats = max(3, steps // 8)
    real_i, bare_i, unfolded_i = interleaved_best([real_score, lambda: bare(folded), lambda: bare(model)], repeats,
                                                  device, rounds)
    result = {
        "device": str(device),
        "precision": str(dtype or "fp32").replace("torch.", ""),
        "width": width,
        "train_images_per_s": round(cfg.batch_size / real_s),
        "bare_train_images_per_s": round(cfg.batch_size / bare_s),
        "train_ratio": round(bare_s / real_s, 3),
        "score_inputs_per_s": round(n_images * k / real_i),
        "bare_inference_inputs_per_s": round(n_images * k / bare_i),
        "score_ratio": round(bare_i / real_i, 3),
        "unfolded_inference_inputs_per_s": round(n_images * k / unfolded_i),
        "fold_speedup": round(unfolded_i / bare_i, 3),
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=int, default=1)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement (5 rounds of each)")
    args = ap.parse_args()
    result = measure(resolve_device(args.device), args.width, args.channels, args.steps)
    print(f"training step: {result['train_ratio']:.3f} of bare forward+backward+update "
          f"({result['train_images_per_s']} vs {result['bare_train_images_per_s']} images/s)")
    print(f"scoring:       {result['score_ratio']:.3f} of bare inference "
          f"({result['score_inputs_per_s']} vs {result['bare_inference_inputs_per_s']} transformed images/s)")
    print(f"BN folding:    {result['fold_speedup']:.3f}x the trained model's inference "
          f"({result['unfolded_inference_inputs_per_s']} transformed images/s unfolded)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
