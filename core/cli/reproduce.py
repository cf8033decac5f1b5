"""``python -m core reproduce`` and ``python -m core baseline``: the paper's tables and its baselines.

Examples::

    python -m core reproduce --dataset fashion_mnist --methods geom,raw-ocsvm --preset quick --runs 1
    python -m core reproduce --dataset fashion_mnist --methods geom,raw-ocsvm --tables-only
    python -m core reproduce --dataset cifar10 --methods geom --preset paper --runs 5 --backend ray
    python -m core baseline --method raw-ocsvm-fair --dataset mnist --normal-class 3
"""

from __future__ import annotations

import argparse
import json
import sys

from core.baselines import ALIASES, ALL_METHODS, METHODS, SCORE_KEY, get_method, run_baseline
from core.cli.backend import add_backend_args, print_progress, report_failures, requested_backend
from core.cli.commands import command
from core.cli.common import add_common, add_runs_and_seed, chosen_classes, print_table, summary_line, tidy_results
from core.config import PRESETS, preset_help
from core.data import DATASETS, load_dataset
from core.paper_tables import paper_value
from core.progress import ProgressBar
from core.reproduce import DEFAULT_TABLES_DIR, reproduce, table_markdown


def add_reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}, or folder:PATH")
    p.add_argument("--methods", default="geom,raw-ocsvm",
                   help=f"comma-separated: {', '.join(ALL_METHODS)}; aliases {', '.join(ALIASES)} "
                        "(default: geom,raw-ocsvm)")
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help=preset_help())
    add_runs_and_seed(p, "runs per class (seeds seed..seed+runs-1); OC-SVMs run once, as in the paper")
    p.add_argument("--classes", help="comma-separated class indices or names (default: every class)")
    p.add_argument("--tables-dir", default=str(DEFAULT_TABLES_DIR),
                   help="where the CSV / Markdown tables go (default: %(default)s)")
    p.add_argument("--tables-only", action="store_true", help="train nothing: tabulate the complete runs already there")
    add_common(p)
    add_backend_args(p)


@command("reproduce",
         "run every class for some methods (resuming), then write the paper-style tables")(add_reproduce_args)
def reproduce_command(args: argparse.Namespace) -> int:
    backend = requested_backend(args)
    bar = ProgressBar("  fit")
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    if not args.tables_only:
        tidy_results(args.out)
    result = reproduce(args.dataset, args.methods, args.preset, args.runs, args.seed, args.device, args.data_dir,
                       args.out, args.tables_dir, classes, train=not args.tables_only, report=print_progress,
                       stage=lambda msg: print(f"  {msg}", file=sys.stderr), progress=bar.update, backend=backend)
    for table in result.tables:
        print(table_markdown(table))
    print(json.dumps({"dataset": result.tables[0].dataset, "preset": args.preset, "trained": result.trained,
                      "reused": result.reused, "failed": len(result.failures),
                      "tables": [str(p) for p in result.paths],
                      "avg_auroc": {m: result.tables[0].cells[("avg", m)].mean for m in result.tables[0].methods}}))
    return report_failures(result.failures, ": rerun the same command to retry them (finished runs are reused)")


def add_baseline_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help=f"one of {', '.join(METHODS)}")
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}, or folder:PATH")
    p.add_argument("--normal-class", required=True, help="class index or name, or 'all' for every class")
    p.add_argument("--preset", default="quick", choices=list(PRESETS))
    add_runs_and_seed(p)
    add_common(p)


@command("baseline", "train and evaluate one of the paper's baselines (see --method) one-vs-all")(add_baseline_args)
def baseline_command(args: argparse.Namespace) -> int:
    cls_ = get_method(args.method)  # unknown name -> ValueError listing the valid ones
    data = load_dataset(args.dataset, args.data_dir)
    classes = chosen_classes(data, args.normal_class)
    tidy_results(args.out)
    lines = []
    for c in classes:
        for r in range(args.runs):
            bar = ProgressBar(f"{args.method} class {c} seed {args.seed + r}")
            run = run_baseline(cls_, data.name, c, args.preset, args.seed + r, args.device, args.data_dir, args.out,
                               progress=bar.update, stage=lambda msg: print(f"  {msg}", file=sys.stderr), data=data)
            m, meta = run.metrics[SCORE_KEY], run.meta
            paper = paper_value(meta["dataset"], meta["normal_class"], "auroc", cls_.paper_method)
            lines.append({
                "method": args.method, "dataset": meta["dataset"], "normal_class": meta["normal_class"],
                "class_name": meta["class_name"], "preset": args.preset, "seed": meta["seed"],
                "auroc": round(m["auroc"], 4), "aupr_in": round(m["aupr_in"], 4), "aupr_out": round(m["aupr_out"], 4),
                "paper_auroc": None if paper is None else paper.mean / 100, "seconds": meta["seconds"],
                "fit": {k: v for k, v in meta["fit"].items() if k in ("gamma", "nu", "n_support", "selection", "R")},
                "run_dir": str(run.path),
            })
    print_table(lines)
    summary = lines[-1] if len(lines) == 1 else {**summary_line(lines), "method": args.method}
    print(json.dumps(summary))
    return 0

