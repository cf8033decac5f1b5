"""argparse ``type=`` functions shared by every ``python -m core`` verb.

Bad numbers are refused while the command line is parsed, so argparse's message names the option
(``argument --steps: must be at least 1, got 0``) and nothing has been loaded or trained yet. Each
check lives here once; the verbs in core/cli/run.py, core/cli/reproduce.py and core/cli/section6.py
only pick one.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from core.train import resolve_device


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A type function for integers of at least ``minimum`` (e.g. 1 for counts, 0 for seeds)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
"""Counts: steps, runs, seeds, batch sizes, windows."""
non_negative_int = int_at_least(0)
"""Seeds and indices."""


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """Sizes of steps: more than 0."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value:g}")
    return value


def non_negative_float(text: str) -> float:
    """Weights and widths where 0 means "none": 0 or more."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value:g}")
    return value


def fraction(text: str) -> float:
    """A share of something: more than 0, at most 1."""
    value = _finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1, got {value:g}")
    return value


def device_arg(text: str) -> str:
    """A device this machine has (core.train.resolve_device's rules), kept as the user's string."""
    try:
        resolve_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text
