"""``python -m core``: the command line over the engine, one module per group of verbs.

- :mod:`core.cli.run`: ``run`` (GEOM one-vs-all runs)
- :mod:`core.cli.reproduce`: ``reproduce`` (the paper's tables) and ``baseline``
- :mod:`core.cli.section6`: ``ablation``, ``ascent``, ``explain`` (the paper's Section 6)
- :mod:`core.cli.score`: ``score`` (image files and folders, with a run's saved threshold)
- :mod:`core.cli.export`: ``export`` (a run's detector as one ONNX graph)
- :mod:`core.cli.ood`: ``ood`` (the paper's Section 5.5: out-of-distribution detection with class labels)

Shared options and printing are in :mod:`core.cli.common`, argparse types in :mod:`core.cli.args`,
the options of verbs that run many jobs (``--backend local|ray``) in :mod:`core.cli.backend`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core.cli.commands import COMMANDS
from core.cli.common import print_table, summary_line
from core.data import DataError
from core.export import MissingPackageError
from core.runs import CheckpointError
from core.sweep import BackendError

__all__ = ["COMMANDS", "USER_ERRORS", "build_parser", "main", "print_table", "summary_line"]

USER_ERRORS = (DataError, CheckpointError, BackendError, ValueError, FileNotFoundError, MissingPackageError)
# The verb modules, in the order `python -m core --help` lists their verbs; each registers on import.
COMMAND_MODULES: tuple[str, ...] = ("core.cli.run", "core.cli.score", "core.cli.reproduce", "core.cli.section6",
                                     "core.cli.export", "core.cli.ood")


def build_parser() -> argparse.ArgumentParser:
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="python -m core",
                                     description="GEOM anomaly detection (Golan & El-Yaniv, 2018)")
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
