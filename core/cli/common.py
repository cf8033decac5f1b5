"""What several verbs share: their common options, the class choice, the results table they print."""

from __future__ import annotations

import argparse

from core.baselines import load_run_detector
from core.cli.args import device_arg, non_negative_int, positive_int
from core.data import ImageDataset, parse_class
from core.detector import GeomDetector
from core.runs import RunInfo, one_class_refusal, read_run, recover_interrupted_writes, results_root
from core.train import DEVICE_CHOICES


def add_data_and_device(p: argparse.ArgumentParser) -> None:
    """--data-dir and --device, which every verb that loads data or a model takes."""
    p.add_argument("--data-dir", help="dataset folder (default: $GEOM_DATA_DIR, else ~/.cache/geom/data)")
    p.add_argument("--device", type=device_arg, default="auto", help=f"{DEVICE_CHOICES} (auto: the GPU if present)")


def add_common(p: argparse.ArgumentParser) -> None:
    add_data_and_device(p)
    p.add_argument("--out", help="results folder (default: $GEOM_RESULTS_DIR, else ./results)")


def add_runs_and_seed(p: argparse.ArgumentParser,
                      runs_help: str = "independent runs (seeds seed..seed+runs-1)") -> None:
    p.add_argument("--runs", type=positive_int, default=1, help=runs_help)
    p.add_argument("--seed", type=non_negative_int, default=0, help="first seed (0 or more)")


def chosen_classes(data: ImageDataset, normal_class: str) -> list[int]:
    """--normal-class as label ids, checked before anything trains: every class for 'all'."""
    if normal_class.strip().lower() == "all":
        return list(range(data.num_classes))
    return [parse_class(data, normal_class)]


def run_detector(run_dir: str, device: str, action: str = "work with this command",
                 precision: str | None = None) -> tuple[GeomDetector, RunInfo]:
    """A GEOM run folder's detector, or a user error saying why not: not a run folder, a baseline's
    run (``action`` says what only GEOM runs do), no model.pt, a damaged checkpoint."""
    run = read_run(run_dir)  # FileNotFoundError / DamagedRunError with a clear message when it is not a run folder
    refusal = one_class_refusal(run, action)
    if refusal:
        raise ValueError(refusal)
    method = run.meta.get("method", GeomDetector.method)
    if method != GeomDetector.method:
        raise ValueError(f"{run.path} is a {method} baseline run: only GEOM runs {action}")
    return load_run_detector(run, device, precision=precision), run


def tidy_results(out: str | None) -> None:
    """Finish or undo what a crash left in the results folder before writing there (as the app does
    at start-up), so a rerun never trips over a half-swapped run."""
    recover_interrupted_writes(results_root(out))


def print_table(lines: list[dict]) -> None:
    """Ours beside the paper's Table 1, one row per run."""
    print(f"{'dataset':<14} {'class':<22} {'seed':>4} {'AUROC':>7} {'paper':>7} {'AUPR-in':>8} {'AUPR-out':>8} "
          f"{'seconds':>8}")
    for d in lines:
        paper = "-" if d["paper_auroc"] is None else f"{100 * d['paper_auroc']:.1f}"
        label = f"{d['normal_class']} - {d['class_name']}"[:22]
        print(f"{d['dataset']:<14} {label:<22} {d['seed']:>4} {_percent(d['auroc']):>7} {paper:>7} "
              f"{_percent(d['aupr_in']):>8} {_percent(d['aupr_out']):>8} {d['seconds']:8.1f}")


def _percent(fraction: float | None) -> str:
    """A metric in the table; '-' for a run that has none (no anomalies in its test data)."""
    return "-" if fraction is None else f"{100 * fraction:.1f}"


def summary_line(lines: list[dict]) -> dict:
    """The final JSON line for several runs: the means, with every run listed."""
    def mean(key: str) -> float | None:
        values = [d[key] for d in lines if d[key] is not None]  # runs without anomalies have no metrics
        return round(sum(values) / len(values), 4) if values else None

    return {
        "dataset": lines[0]["dataset"],
        "normal_class": sorted({d["normal_class"] for d in lines}),
        "preset": lines[0]["preset"],
        "auroc": mean("auroc"),
        "aupr_in": mean("aupr_in"),
        "aupr_out": mean("aupr_out"),
        "seconds": round(sum(d["seconds"] for d in lines), 2),
        "runs": lines,
    }
