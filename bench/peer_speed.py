"""Train and score throughput of GEOM's real loops for one network and precision, beside the authors' code.

Measures, in one process and interleaved round after round (so a VM that speeds up or slows down
affects every figure alike):

- ``train``: the real training step (sample image/transform pairs, transform, forward, backward,
  Adam update; batch 128), images per second;
- ``score``: the real scoring pass, ``GeomDetector.softmax_matrix`` (every image under the 72
  transforms, the BN-folded network, float64 softmax), transformed images per second;
- for each of them the bare network on a ready batch in both memory layouts (NCHW and
  channels_last), which is how the product's choice of layout per precision is checked.

``--peer-json`` takes the JSON line that ``../shared/tools/peers/geom-keras/run.sh`` prints for
the authors' Keras code (run it on the same machine, back to back), and the table gets their
``train_images_per_s`` / ``score_images_per_s`` and our ratio to them. No figure is typed in here.

    python -m bench.peer_speed --width 4 --channels 3 --precision fp32
    ONEDNN_MAX_CPU_ISA=AVX2 python -m bench.peer_speed --width 4 --channels 3 --precision fp32
    python -m bench.peer_speed --width 4 --channels 3 --precision fp32 bf16 --peer-json keras.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.overhead import interleaved_best
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

LAYOUTS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def measure(device: torch.device, precision: str, depth: int, width: int, channels: int, steps: int,
            score_images: int, rounds: int) -> dict[str, Any]:
    """Images per second of the real train step and scoring pass, and of the bare network per layout."""
    cfg = preset_config("quick", 32, channels, depth=depth, width=width, precision=precision)
    dtype = resolve_precision(cfg.precision, device)
    tset = cfg.transform_set()
    x = (torch.rand(2000, channels, 32, 32) * 2 - 1).to(device)
    model = build_model(cfg).to(device, memory_format=MEMORY_FORMAT)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batches = pair_batches(len(x), len(tset), cfg.batch_size, 10 ** 9, torch.Generator().manual_seed(0))

    def real_step() -> None:
        idx, labels = next(batches)
        labels = labels.to(device)
        batch = tset.apply(x[idx.to(device)], labels).contiguous(memory_format=MEMORY_FORMAT)
        optimise_step(model, opt, batch, labels, dtype)

    idx, labels = next(batches)
    ready = tset.apply(x[idx.to(device)], labels.to(device))
    bare_models = {name: build_model(cfg).to(device, memory_format=layout) for name, layout in LAYOUTS.items()}
    bare_opts = {name: torch.optim.Adam(m.parameters(), lr=cfg.lr) for name, m in bare_models.items()}

    def bare_step(name: str) -> Callable[[], None]:
        batch = ready.contiguous(memory_format=LAYOUTS[name])
        return lambda: optimise_step(bare_models[name], bare_opts[name], batch, labels.to(device), dtype)

    train_fns = [real_step] + [bare_step(name) for name in LAYOUTS]
    train_s = interleaved_best(train_fns, steps, device, rounds)

    det = GeomDetector(cfg, device)
    det.model = model.eval()
    images = x[:score_images]
    folded = det.inference_model()
    inputs = tset.apply_all(images[:det.score_batch])
    layouts = {name: (copy.deepcopy(folded).to(memory_format=layout), inputs.contiguous(memory_format=layout))
               for name, layout in LAYOUTS.items()}

    def bare_score(name: str) -> Callable[[], None]:
        net, batch = layouts[name]

        def run() -> None:
            with torch.inference_mode(), autocast_context(device, dtype):
                for _ in range(0, score_images, det.score_batch):
                    net(batch)
        return run

    score_s = interleaved_best([lambda: det.softmax_matrix(images)] + [bare_score(name) for name in LAYOUTS],
                               1, device, rounds)
    k = len(tset)
    result: dict[str, Any] = {
        "device": str(device), "precision": str(dtype or "fp32").replace("torch.", ""),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
        "network": f"WRN-{depth}-{width}", "channels": channels, "threads": torch.get_num_threads(),
        "layout": next(name for name, layout in LAYOUTS.items() if layout == MEMORY_FORMAT),
        "train_images_per_s": round(cfg.batch_size / train_s[0]),
        "score_images_per_s": round(score_images * k / score_s[0]),
    }
    for i, name in enumerate(LAYOUTS, start=1):
        result[f"bare_train_{name}_images_per_s"] = round(cfg.batch_size / train_s[i])
        result[f"bare_score_{name}_images_per_s"] = round(score_images * k / score_s[i])
    return result


def table(results: Sequence[dict[str, Any]], peer: dict[str, Any] | None) -> str:
    """One row per precision, with the peer's figures and our ratio to them when given."""
    head = f"{'':<28} {'train img/s':>11} {'score img/s':>11}"
    rows = [head]
    if peer is not None:
        rows.append(f"{'authors (Keras)':<28} {peer['train_images_per_s']:>11.0f} {peer['score_images_per_s']:>11.0f}")
    for r in results:
        label = f"ours {r['precision']} ({r['layout']})"
        line = f"{label:<28} {r['train_images_per_s']:>11} {r['score_images_per_s']:>11}"
        if peer is not None:
            line += (f"   {r['train_images_per_s'] / peer['train_images_per_s']:.2f}x / "
                     f"{r['score_images_per_s'] / peer['score_images_per_s']:.2f}x the authors'")
        rows.append(line)
        for name in LAYOUTS:
            rows.append(f"{'  bare ' + name:<28} {r[f'bare_train_{name}_images_per_s']:>11} "
                        f"{r[f'bare_score_{name}_images_per_s']:>11}")
    return "\n".join(rows)


def read_peer(path: str) -> dict[str, Any]:
    """The last JSON line of the peer harness's output (it prints logs before it)."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip().startswith("{")]
    if not lines:
        raise SystemExit(f"{path}: no JSON line; pass the output of ../shared/tools/peers/geom-keras/run.sh")
    return json.loads(lines[-1])


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", nargs="+", default=["fp32"], choices=["auto", "fp32", "bf16"])
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="training steps per timing (best of --rounds)")
    ap.add_argument("--score-images", type=int, default=16, help="images per scoring timing (x 72 transforms)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer-json", help="output of the authors' code from ../shared/tools/peers/geom-keras/run.sh")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    results = [measure(device, p, args.depth, args.width, args.channels, args.steps, args.score_images, args.rounds)
               for p in args.precision]
    print(table(results, read_peer(args.peer_json) if args.peer_json else None))
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
