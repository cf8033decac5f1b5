"""How the `quick` preset was chosen: AUROC and seconds on Fashion-MNIST for candidate settings.

For each class and training length it trains once, scores the WHOLE test set under all 72
transforms, and then evaluates cheaper scoring choices on the same softmax tensor: fewer images for
the Dirichlet fit, and fewer transforms at test time. Prints one row per (class, setting).

    GEOM_DATA_DIR=../shared/data python -m bench.quick_choice --classes 0 4 6 --steps 1000 2000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from core.config import preset_config
from core.data import load_dataset
from core.detector import GeomDetector
from core.dirichlet import dirichlet_score, fit_dirichlet, simple_score
from core.metrics import detection_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion_mnist")
    ap.add_argument("--classes", type=int, nargs="+", default=[0, 4, 6])
    ap.add_argument("--steps", type=int, nargs="+", default=[1000, 2000])
    ap.add_argument("--width", type=int, default=1)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    rows = []
    for cls in args.classes:
        for steps in args.steps:
            cfg = preset_config("quick", data.image_size, data.channels, steps=steps, width=args.width)
            det = GeomDetector(cfg, "cpu")
            t0 = time.perf_counter()
            det.fit(data.x_train[data.y_train == cls])
            train_s = time.perf_counter() - t0
            fit_p = det.softmax_matrix(data.x_train[data.y_train == cls][:1000])
            t1 = time.perf_counter()
            p = det.softmax_matrix(data.x_test)
            score_s = time.perf_counter() - t1
            normal = data.y_test == cls
            variants = {"simple": simple_score(p)}
            for n_fit in (250, 500, 1000):
                variants[f"fit{n_fit}"] = dirichlet_score(p, fit_dirichlet(fit_p[:n_fit].transpose(1, 0, 2)))
            alphas = fit_dirichlet(fit_p.transpose(1, 0, 2))
            subsets = {"noflip36": np.arange(36), "every2nd36": np.arange(0, 72, 2), "every4th18": np.arange(0, 72, 4)}
            for name, idx in subsets.items():
                variants[name] = dirichlet_score(p[:, idx], alphas[idx])
            for name, s in variants.items():
                row = {"class": cls, "steps": steps, "width": args.width, "variant": name,
                       "auroc": round(detection_metrics(normal, s)["auroc"], 4),
                       "train_s": round(train_s, 1), "score72_s": round(score_s, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("mean AUROC per (steps, variant):")
    keys = sorted({(r["steps"], r["variant"]) for r in rows})
    for k in keys:
        vals = [r["auroc"] for r in rows if (r["steps"], r["variant"]) == k]
        print(f"  steps={k[0]:5d} {k[1]:<12} {100 * np.mean(vals):.2f}")


if __name__ == "__main__":
    main()
