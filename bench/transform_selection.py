"""Does dropping the transforms the classifier cannot tell apart help? All 72 against the auto rule.

For every class and seed it trains the preset's transforms and ``--transforms auto`` (a probe on 80%
of the normal training images, then a detector on the transforms it keeps; core/selection.py)
through core.experiment.run_one_class, exactly as ``python -m core run`` does, and prints one JSON
line per (class, seed, set): AUROC of the Dirichlet and the simplified score, the number of
transforms, and seconds (the auto line's include the probe's training). A table of the means over
seeds goes to stderr at the end. The runs are saved under --out and open in the explorer (its Why
page shows what auto dropped).

    GEOM_DATA_DIR=../shared/data python -m bench.transform_selection --dataset mnist --classes 1 --seeds 0 1 2
    python -m bench.transform_selection --dataset digits --classes 1 --seeds 0 --preset tiny   # seconds, offline
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.cli.args import device_arg, non_negative_int
from core.cli.common import chosen_classes
from core.config import PRESETS, GeomConfig
from core.data import load_dataset
from core.experiment import RunRequest, run_one_class
from core.runs import RunInfo, results_root
from core.selection import AUTO

SETS: dict[str, tuple[tuple[str, Any], ...]] = {"all": (), AUTO: (("transforms", AUTO),)}
"""The two runs compared, by the overrides that make them: the preset's transforms, and the rule's."""


def result(run: RunInfo, name: str) -> dict[str, Any]:
    """The JSON line of one run."""
    m = run.meta
    return {"dataset": m["dataset"], "class": m["normal_class"], "class_name": m["class_name"], "seed": m["seed"],
            "preset": m["preset"], "set": name, "transforms": GeomConfig.from_dict(m["config"]).num_transforms,
            "auroc_dirichlet": round(run.metrics["dirichlet"]["auroc"], 4),
            "auroc_simple": round(run.metrics["simple"]["auroc"], 4), "seconds": m["seconds"], "run_dir": str(run.path)}


def summary(lines: Sequence[dict[str, Any]]) -> str:
    """Mean over seeds per (class, set), for reading at a glance."""
    rows = [f"{'class':<18} {'set':<5} {'seeds':>5} {'k':>5} {'Dirichlet':>9} {'simple':>7} {'seconds':>8}"]
    for cls in dict.fromkeys(line["class"] for line in lines):
        for name in SETS:
            group = [line for line in lines if line["class"] == cls and line["set"] == name]
            if group:
                mean = {key: np.mean([line[key] for line in group])
                        for key in ("transforms", "auroc_dirichlet", "auroc_simple", "seconds")}
                rows.append(f"{str(cls) + ' ' + group[0]['class_name']:<18.18} {name:<5} {len(group):>5} "
                            f"{mean['transforms']:>5.1f} {100 * mean['auroc_dirichlet']:>9.1f} "
                            f"{100 * mean['auroc_simple']:>7.1f} {mean['seconds']:>8.0f}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--classes", nargs="+", default=["1"], help="class ids or names, or 'all'")
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--preset", default="quick", choices=list(PRESETS))
    ap.add_argument("--device", type=device_arg, default="auto")
    ap.add_argument("--data-dir")
    ap.add_argument("--out", help="results folder (default: <results>/bench-transform-selection, so the plain "
                                  "runs of python -m core run are not overwritten)")
    args = ap.parse_args(argv)
    out = args.out or str(results_root() / "bench-transform-selection")
    data = load_dataset(args.dataset, args.data_dir)
    classes = [c for text in args.classes for c in chosen_classes(data, text)]  # checked before any training
    lines = []
    for cls in classes:
        for seed in args.seeds:
            for name, overrides in SETS.items():
                request = RunRequest(args.dataset, cls, args.preset, seed, args.device, args.data_dir, out, overrides)
                run = run_one_class(request, stage=lambda msg: print(f"  {msg}", file=sys.stderr))
                lines.append(result(run, name))
                print(json.dumps(lines[-1]), flush=True)
    print(summary(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
