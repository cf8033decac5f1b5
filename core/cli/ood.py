"""``python -m core ood``: the paper's Section 5.5, out-of-distribution detection with class labels.

    python -m core ood --in cifar10 --out cifar100 --preset quick
    python -m core ood --in cifar10 --out folder:/data/Imagenet_resize --preset paper --device cuda

Trains the two-headed WRN on the labelled ``--in`` set, tunes ODIN on held-out images, scores the
rest with GEOM (the transform head), MSP and ODIN (the class head), writes the run folder
``<results>/ood/<in>/<out>/<preset>-seed<seed>/`` and prints the metrics beside the paper's, then one
JSON line. ``--out`` here is the OOD set; the results folder is ``--results``.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.cli.args import non_negative_int
from core.cli.commands import command
from core.cli.common import add_data_and_device, tidy_results
from core.data import DATASETS
from core.ood.config import OOD_PRESETS, ood_preset_help
from core.ood.run import OOD_METRICS, OOD_SCORES, OodRequest, metric_rows, run_ood
from core.progress import ProgressBar


def add_ood_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in", dest="in_dataset", required=True, metavar="DATASET",
                   help=f"the labelled in-distribution set: one of {', '.join(DATASETS)}, or folder:PATH of class "
                        "sub-folders")
    p.add_argument("--out", dest="out_dataset", required=True, metavar="DATASET",
                   help="the out-of-distribution set: a dataset name (its test images), or folder:PATH (every image "
                        "under it; converted to the --in set's size and channels)")
    p.add_argument("--preset", default="quick", choices=list(OOD_PRESETS), help=ood_preset_help())
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed (0 or more)")
    add_data_and_device(p)
    p.add_argument("--results", help="results folder (default: $GEOM_RESULTS_DIR, else ./results)")


def print_metrics(rows: list[dict[str, str]]) -> None:
    """Ours, then the paper's rows, as a fixed-width table on stdout."""
    width = max(len(r["method"]) for r in rows)
    data_width = max(len(r["data"]) for r in rows)
    names = list(OOD_METRICS.values())
    print(f"{'method':<{width}}  {'data':<{data_width}}  " + "  ".join(f"{n:>10}" for n in names))
    for r in rows:
        print(f"{r['method']:<{width}}  {r['data']:<{data_width}}  " + "  ".join(f"{r[n]:>10}" for n in names))


@command("ood", "Section 5.5: out-of-distribution detection with class labels (GEOM's transform head vs MSP "
                "and ODIN on one two-headed WRN)")(add_ood_args)
def ood_command(args: argparse.Namespace) -> int:
    tidy_results(args.results)
    request = OodRequest(args.in_dataset, args.out_dataset, args.preset, args.seed, args.device, args.data_dir,
                         args.results)
    bar = ProgressBar(f"{args.in_dataset} vs {args.out_dataset}")
    run = run_ood(request, progress=bar.train, score_progress=bar.score,
                  tune_progress=lambda done, n: bar.update(done / n, f"ODIN grid: {done}/{n} temperatures"),
                  stage=lambda msg: print(f"  {msg}", file=sys.stderr))
    rows = metric_rows(run)
    print_metrics(rows)
    m = run.meta
    print(f"ODIN tuned on {m['n_tune_in']} + {m['n_tune_out']} held-out images; all three scored on the other "
          f"{m['n_eval_in']} in-distribution + {m['n_eval_out']} OOD images. Class-head accuracy "
          f"{100 * m['class_accuracy']:.1f}%.")
    if any(r["data"].endswith("(paper)") for r in rows):
        print("The paper's rows test against tiny-ImageNet (resized, from ODIN's release), not this OOD set.")
    print(json.dumps({"in_dataset": m["dataset"], "out_dataset": m["out_dataset"], "preset": m["preset"],
                      "seed": m["seed"], **{k: {name: round(v, 4) for name, v in run.metrics[k].items()}
                                            for k in OOD_SCORES},
                      "odin_temperature": m["odin"]["temperature"], "odin_epsilon": m["odin"]["epsilon"],
                      "class_accuracy": round(m["class_accuracy"], 4), "seconds": m["seconds"],
                      "run_dir": str(run.path)}))
    return 0
