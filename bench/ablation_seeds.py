"""The paper's three Section 6 ablations over several seeds, on real MNIST: ours beside the paper's.

For each experiment (8v3-flip, 3v8-flip, 8v3-translate7) it trains one small two-transform detector
per seed on the normal digit, scores the test images of both digits, and prints one JSON line per
seed, then a table of mean +- SEM AUROC with the paper's number, the transform classifier's accuracy
on normal and anomalous test images, and the seconds spent.

    GEOM_DATA_DIR=../shared/data python bench/ablation_seeds.py                  # 5 seeds, defaults
    GEOM_DATA_DIR=../shared/data python bench/ablation_seeds.py --steps 100 300 --seeds 2
    # the translation experiment with other shifts (rows, cols; "f,r,c,k; ..." lists):
    python -m bench.ablation_seeds --experiments 8v3-translate7 --transforms translate7 "0,0,0,0; 0,7,0,0"
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `core` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from core.ablation import PAPER_ABLATIONS, ablation_data, run_ablation, with_overrides
from core.config import NETWORKS
from core.metrics import mean_sem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiments", nargs="+", default=list(PAPER_ABLATIONS), choices=list(PAPER_ABLATIONS))
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    ap.add_argument("--steps", type=int, nargs="+", default=[None], help="training steps (default: the spec's)")
    ap.add_argument("--transforms", nargs="+", default=[None],
                    help="transform sets to sweep instead of the experiment's own (names or 'f,r,c,k; ...' lists)")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--width", type=int)
    ap.add_argument("--network", choices=NETWORKS)
    ap.add_argument("--weight-decay", type=float)
    ap.add_argument("--max-test-images", type=int)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on a CPU shared with other jobs, 2 threads spin-wait "
                         "and ran 60x slower than 1 in our measurement)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    t_all = time.perf_counter()
    for steps in args.steps:
        for name, transforms in itertools.product(args.experiments, args.transforms):
            spec = with_overrides(PAPER_ABLATIONS[name].spec, steps=steps, batch_size=args.batch_size,
                                  width=args.width, max_test_images=args.max_test_images, transforms=transforms,
                                  network=args.network, weight_decay=args.weight_decay)
            prepared = ablation_data(spec, args.data_dir)
            for seed in range(args.seeds):
                r = run_ablation(spec, seed, args.data_dir, args.device, prepared=prepared)
                row = {"experiment": name, "transforms": str(spec.transforms), "steps": spec.steps,
                       "batch_size": spec.batch_size, "width": spec.width, "network": spec.network,
                       "weight_decay": spec.resolved_weight_decay,
                       "seed": seed, "auroc": round(r.auroc["dirichlet"], 4),
                       "auroc_simple": round(r.auroc["simple"], 4),
                       "acc_normal": round(r.accuracy_normal, 3), "acc_anomalous": round(r.accuracy_anomalous, 3),
                       "train_s": round(r.train_seconds, 1), "score_s": round(r.score_seconds, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'experiment':<16} {'transforms':<18} {'steps':>5} {'AUROC (Dirichlet)':>18} {'simple':>14} {'paper':>6} "
          f"{'acc normal':>10} {'acc anom':>9} {'seconds':>8}")
    for steps in dict.fromkeys(r["steps"] for r in rows):
        for name, transforms in dict.fromkeys((r["experiment"], r["transforms"]) for r in rows):
            sel = [r for r in rows if (r["experiment"], r["transforms"], r["steps"]) == (name, transforms, steps)]
            if not sel:
                continue
            m, s = mean_sem([r["auroc"] for r in sel])
            ms, ss = mean_sem([r["auroc_simple"] for r in sel])
            secs = sum(r["train_s"] + r["score_s"] for r in sel)
            an = sum(r["acc_normal"] for r in sel) / len(sel)
            aa = sum(r["acc_anomalous"] for r in sel) / len(sel)
            paper = PAPER_ABLATIONS[name].paper_auroc
            print(f"{name:<16} {transforms:<18} {steps:>5} {m:>10.3f} ± {s:.3f} {ms:>6.3f} ± {ss:.3f} {paper:>6.3f} "
                  f"{an:>10.3f} {aa:>9.3f} {secs:>8.0f}")
    print(f"total {time.perf_counter() - t_all:.0f} s over {len(rows)} trainings")


if __name__ == "__main__":
    main()
