"""How the colour CPU preset was chosen: AUROC against training length and width on natural images.

One training per (class, width) is evaluated at several step counts on the way (the model after s
steps is exactly what ``steps=s`` would give), each on a stratified test subset with the Dirichlet
fitted on 500 and 1,000 normal training images. Seconds are training only, measured with the
evaluations paused; scoring throughput is printed per width so that the whole test set's scoring
time of a candidate can be added to its training time.

    GEOM_DATA_DIR=../shared/data python -m bench.colour_preset --classes 3 0 --widths 4 2 \\
        --steps 1000 2000 3000 --test-images 2000
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from core.config import preset_config
from core.data import ImageDataset, as_model_input, load_dataset, parse_class
from core.detector import GeomDetector
from core.dirichlet import dirichlet_score, fit_dirichlet, simple_score
from core.experiment import test_subset
from core.metrics import detection_metrics
from core.train import resolve_precision, train_classifier

FIT_SIZES = (500, 1000)


def evaluate(det: GeomDetector, fit_x: torch.Tensor, test_x: np.ndarray,
             normal: np.ndarray) -> tuple[dict[str, float], float]:
    """AUROC per scoring variant, and transformed images scored per second."""
    t0 = time.perf_counter()
    fit_p = det.softmax_matrix(fit_x)
    p = det.softmax_matrix(test_x)
    rate = (len(fit_x) + len(test_x)) * len(det.transforms) / (time.perf_counter() - t0)
    aurocs = {"simple": detection_metrics(normal, simple_score(p))["auroc"]}
    for n_fit in FIT_SIZES:
        alphas = fit_dirichlet(np.transpose(fit_p[:n_fit], (1, 0, 2)))
        aurocs[f"dirichlet_fit{n_fit}"] = detection_metrics(normal, dirichlet_score(p, alphas))["auroc"]
    return aurocs, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--classes", nargs="+", default=["3", "0"])
    ap.add_argument("--widths", type=int, nargs="+", default=[4, 2])
    ap.add_argument("--steps", type=int, nargs="+", default=[1000, 2000, 3000])
    ap.add_argument("--test-images", type=int, default=2000)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    index = test_subset(data.y_test, args.test_images, args.seed)
    checkpoints = set(args.steps)
    for cls_arg in args.classes:
        cls = parse_class(data, cls_arg)
        x_normal = as_model_input(data.x_train[data.y_train == cls])
        rng = np.random.default_rng(args.seed)
        fit_x = x_normal[torch.from_numpy(np.sort(rng.choice(len(x_normal), max(FIT_SIZES), replace=False)))]
        for width in args.widths:
            measure(data, cls, width, index, fit_x, checkpoints, args)


def measure(data: ImageDataset, cls: int, width: int, index: np.ndarray, fit_x: torch.Tensor, checkpoints: set[int],
            args: argparse.Namespace) -> None:
    """Train one (class, width) classifier, printing a JSON row of AUROCs and timings at each checkpoint."""
    normal = data.y_test[index] == cls
    cfg = preset_config("quick", data.image_size, data.channels, width=width, steps=max(checkpoints),
                        precision=args.precision, seed=args.seed)
    det = GeomDetector(cfg, "cpu")
    clock = {"train": 0.0, "since": time.perf_counter(), "cpu_since": time.process_time(), "cpu": 0.0}

    def on_step(step: int, model: torch.nn.Module) -> None:
        if step not in checkpoints:
            return
        clock["train"] += time.perf_counter() - clock["since"]
        clock["cpu"] += time.process_time() - clock["cpu_since"]
        det.model = copy.deepcopy(model).eval()
        aurocs, rate = evaluate(det, fit_x, data.x_test[index], normal)
        row = {"dataset": data.name, "class": data.class_label(cls), "width": width, "steps": step,
               "precision": str(resolve_precision(cfg.precision, det.device) or "fp32"),
               "train_s": round(clock["train"], 1), "train_cpu_s": round(clock["cpu"], 1),
               "train_img_per_s": round(step * cfg.batch_size / clock["train"], 1),
               "score_img_per_s": round(rate, 1), "test_images": len(index),
               **{k: round(v, 4) for k, v in aurocs.items()}}
        print(json.dumps(row), flush=True)
        clock["since"], clock["cpu_since"] = time.perf_counter(), time.process_time()

    train_classifier(as_model_input(data.x_train[data.y_train == cls]), cfg, det.device, on_step=on_step)


if __name__ == "__main__":
    main()
