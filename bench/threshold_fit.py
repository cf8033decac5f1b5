"""Where to fit the Dirichlets: on the classifier's training images (the default) or on the held-out slice.

``GeomConfig.dirichlet_fit`` picks the images the per-transform Dirichlets are fitted on:
``training`` (images the classifier trained on, as the paper does; the held-out slice only sets the
threshold) or ``held_out`` (the held-out slice, which then also sets the threshold). For each class
this trains one classifier with the preset and fits both options on top of it
(:meth:`core.detector.GeomDetector.fit_scoring`), so the two differ in the fit alone, not in
training noise, at the cost of one training and one pass over the preset's test images per class.
It prints one JSON line per (class, option):

- ``auroc_dirichlet``, and ``auroc_simple`` for reference (the simplified score does not use the
  fit, so it is the same for both options);
- ``fpr_held_out``: the share of the held-out normal images above the threshold, within
  1 / ``held_out_images`` of the contamination by construction (a check, not a finding);
- ``fpr_test_normal``: the share of the normal test images above it, the false-positive rate a
  user meets on new normal images, which the contamination promises;
- ``flagged_test_anomalies``: the share of the test anomalies above it.

    GEOM_DATA_DIR=../shared/data python -m bench.threshold_fit --dataset fashion_mnist \\
        --classes 0 1 2 3 4 5 6 7 8 9 --preset quick
    python -m bench.threshold_fit --smoke      # digits, tiny, one class: a minute or two, for the tests
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from core.config import DIRICHLET_FITS, preset_config
from core.data import load_dataset, parse_class
from core.detector import GeomDetector
from core.experiment import test_subset
from core.metrics import detection_metrics
from core.threshold import is_anomaly
from core.train import train_classifier

SMOKE = {"dataset": "digits", "classes": ["3"], "preset": "tiny"}


def measure(dataset: str, class_arg: str, preset: str, seed: int, device: str, data_dir: str | None) -> list[dict]:
    """Train one classifier on the class, fit each dirichlet_fit option on it; one row per option."""
    data = load_dataset(dataset, data_dir)
    cls = parse_class(data, class_arg)
    cfg = preset_config(preset, data.image_size, data.channels, seed=seed)
    # The held_out option holds out at least 2 images, the default at least 1: split as the former
    # does, so both options share one split (the same one for any class of more than 20 images).
    splitter = GeomDetector(replace(cfg, dirichlet_fit="held_out"), device)
    train_x, held_x = splitter.split(data.x_train[data.y_train == cls])
    start = time.perf_counter()
    model = train_classifier(train_x, cfg, splitter.device)
    train_s = time.perf_counter() - start
    index = test_subset(data.y_test, cfg.max_test_images, seed)
    normal = data.y_test[index] == cls
    detectors = []
    for option in DIRICHLET_FITS:
        det = GeomDetector(replace(cfg, dirichlet_fit=option), device)
        det.model = model
        det.fit_scoring(train_x, held_x)
        detectors.append(det)
    softmax = detectors[0].softmax_matrix(data.x_test[index])  # the shared classifier's: one pass for both options
    auroc_simple = detection_metrics(normal, detectors[0].score_softmax(softmax, "simple"))["auroc"]
    rows = []
    for det in detectors:
        assert det.threshold_ is not None and det.decision_scores_ is not None  # both options hold images out
        dirichlet = det.score_softmax(softmax)
        flagged = is_anomaly(-dirichlet, det.threshold_)
        rows.append({
            "dataset": data.name, "class": data.class_label(cls), "preset": preset, "seed": seed,
            "dirichlet_fit": det.config.dirichlet_fit, "contamination": cfg.contamination,
            "held_out_images": len(held_x), "train_images": len(train_x), "test_images": len(index),
            "auroc_dirichlet": round(detection_metrics(normal, dirichlet)["auroc"], 4),
            "auroc_simple": round(auroc_simple, 4),
            "fpr_held_out": round(float(is_anomaly(det.decision_scores_, det.threshold_).mean()), 4),
            "fpr_test_normal": round(float(flagged[normal].mean()), 4),
            "flagged_test_anomalies": round(float(flagged[~normal].mean()), 4),
            "train_s": round(train_s, 1),
        })
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="fashion_mnist")
    ap.add_argument("--classes", nargs="+", default=[str(c) for c in range(10)], help="class indices or names")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data-dir", help="dataset folder (default: $GEOM_DATA_DIR)")
    ap.add_argument("--smoke", action="store_true", help=f"the same path on {SMOKE} (seconds)")
    args = ap.parse_args(argv)
    if args.smoke:
        args = argparse.Namespace(**{**vars(args), **SMOKE})
    for class_arg in args.classes:
        for row in measure(args.dataset, class_arg, args.preset, args.seed, args.device, args.data_dir):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
