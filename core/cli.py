"""``python -m core``: the command line over the engine.

Subcommands register themselves in ``COMMANDS`` (name -> (add_arguments, handler)), so features
in their own modules add a verb without touching the parser of the others.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Callable

from core.cli_args import device_arg, non_negative_int, positive_int
from core.config import PRESETS
from core.data import DATASETS, DataError, ImageDataset, load_dataset, parse_class
from core.detector import CheckpointError
from core.experiment import RunRequest, result_line, run_one_class
from core.train import DEVICE_CHOICES, TrainProgress

AddArgs = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, AddArgs, Handler]] = {}
USER_ERRORS = (DataError, CheckpointError, ValueError, FileNotFoundError)


def command(name: str, help_text: str) -> Callable[[AddArgs], Callable[[Handler], Handler]]:
    """Register a subcommand: ``@command("run", "...")(add_args)(handler)``."""
    def with_args(add_args: AddArgs) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            COMMANDS[name] = (help_text, add_args, handler)
            return handler
        return register
    return with_args


class ProgressBar:
    """A one-line progress display on stderr (redrawn in place on a terminal, sparse otherwise)."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label, self.stream = label, stream
        self.tty = stream.isatty()
        self._last_decile = -1

    def train(self, p: TrainProgress) -> None:
        self._draw(p.fraction, f"step {p.step}/{p.total_steps} loss {p.loss:.3f} acc {p.accuracy:.2f} {p.elapsed_s:.0f}s")

    def score(self, done: int, total: int) -> None:
        self._draw(done / total, f"scored {done}/{total} images")

    def _draw(self, fraction: float, text: str) -> None:
        decile = int(fraction * 10)
        if not self.tty and decile == self._last_decile and fraction < 1:
            return
        self._last_decile = decile
        bar = "#" * int(fraction * 30)
        line = f"{self.label} [{bar:<30}] {100 * fraction:5.1f}% {text}"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and fraction >= 1:
            self.stream.write("\n")
        self.stream.flush()


def add_data_and_device(p: argparse.ArgumentParser) -> None:
    """--data-dir and --device, which every verb that loads data or a model takes."""
    p.add_argument("--data-dir", help="dataset folder (default: $GEOM_DATA_DIR, else ~/.cache/geom/data)")
    p.add_argument("--device", type=device_arg, default="auto", help=f"{DEVICE_CHOICES} (auto: the GPU if present)")


def add_common(p: argparse.ArgumentParser) -> None:
    add_data_and_device(p)
    p.add_argument("--out", help="results folder (default: $GEOM_RESULTS_DIR, else ./results)")


def add_runs_and_seed(p: argparse.ArgumentParser, runs_help: str = "independent runs (seeds seed..seed+runs-1)") -> None:
    p.add_argument("--runs", type=positive_int, default=1, help=runs_help)
    p.add_argument("--seed", type=non_negative_int, default=0, help="first seed (0 or more)")


def chosen_classes(data: ImageDataset, normal_class: str) -> list[int]:
    """--normal-class as label ids, checked before anything trains: every class for 'all'."""
    if normal_class.strip().lower() == "all":
        return list(range(data.num_classes))
    return [parse_class(data, normal_class)]


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}, or folder:PATH")
    p.add_argument("--normal-class", required=True, help="class index or name, or 'all' for every class")
    p.add_argument("--preset", default="quick", choices=list(PRESETS), help="paper, quick (CPU minutes) or tiny (seconds)")
    add_runs_and_seed(p)
    p.add_argument("--steps", type=positive_int, help="override the preset's number of training steps")
    add_common(p)


@command("run", "train and evaluate one-vs-all detectors, one run folder each")(add_run_args)
def run_command(args: argparse.Namespace) -> int:
    data = load_dataset(args.dataset, args.data_dir)  # fail fast, before any training
    overrides = (("steps", args.steps),) if args.steps is not None else ()
    lines = []
    for cls in chosen_classes(data, args.normal_class):
        for r in range(args.runs):
            request = RunRequest(args.dataset, cls, args.preset, args.seed + r, args.device, args.data_dir, args.out, overrides)
            bar = ProgressBar(f"{data.name} class {data.class_label(cls)} seed {request.seed}")
            run = run_one_class(request, progress=bar.train, score_progress=bar.score,
                                stage=lambda msg: print(f"  {msg}", file=sys.stderr))
            lines.append(result_line(run))
    print_table(lines)
    print(json.dumps(lines[-1] if len(lines) == 1 else summary_line(lines)))
    return 0


def print_table(lines: list[dict]) -> None:
    """Ours beside the paper's Table 1, one row per run."""
    print(f"{'dataset':<14} {'class':<22} {'seed':>4} {'AUROC':>7} {'paper':>7} {'AUPR-in':>8} {'AUPR-out':>8} {'seconds':>8}")
    for d in lines:
        paper = "-" if d["paper_auroc"] is None else f"{100 * d['paper_auroc']:.1f}"
        label = f"{d['normal_class']} - {d['class_name']}"[:22]
        print(f"{d['dataset']:<14} {label:<22} {d['seed']:>4} {100 * d['auroc']:7.1f} {paper:>7} "
              f"{100 * d['aupr_in']:8.1f} {100 * d['aupr_out']:8.1f} {d['seconds']:8.1f}")


def summary_line(lines: list[dict]) -> dict:
    """The final JSON line for several runs: the means, with every run listed."""
    mean = lambda key: round(sum(d[key] for d in lines) / len(lines), 4)  # noqa: E731
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


# Modules that register further subcommands with @command when imported.
COMMAND_MODULES: tuple[str, ...] = ("core.baselines_cli", "core.section6_cli")


def build_parser() -> argparse.ArgumentParser:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="python -m core", description="GEOM anomaly detection (Golan & El-Yaniv, 2018)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are saved; unfinished ones left nothing behind", file=sys.stderr)
        return 130
