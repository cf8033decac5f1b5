"""Two runs side by side: the settings that differ, their AUROC per anomalous class aligned by class,
and whether their softmax matrices can be subtracted.

Any two GEOM runs compare: one class at two settings (72 transforms against a subset, two presets or
seeds), or two normal classes of one dataset, where each run's normal class is an anomaly of the
other and so has an AUROC in one run only. Plain functions over RunInfo and RunScores, so the
explorer's Compare page, its report and the tests read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.metrics import auroc_per_class, has_both_groups
from core.runs import RunInfo
from core.scores import RunScores
from core.transforms import Transform, TransformSet, spec_tag


def _text(value: Any) -> str:
    """A setting for people: None as "-" (the config's "all" or "default"), floats without noise."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def run_transforms(run: RunInfo) -> TransformSet | None:
    """The transforms a GEOM run trained with, rebuilt from its config; None for a run without them (a
    baseline) or whose config names a set this version does not know."""
    config = run.meta.get("config", {})
    if "transforms" not in config:
        return None
    try:
        return TransformSet.by_name(config["transforms"], int(config.get("image_size", 32)))
    except ValueError:
        return None


def run_settings(run: RunInfo) -> dict[str, str]:
    """A run's settings as text, by name: what was run (method, dataset, normal class, preset, seed,
    images, device), then every field of its config. The transforms read as their count and set (a
    list as its count and hash, as in folder names), and a run whose transforms the ``auto`` rule
    chose says so."""
    m = run.meta
    out = {"method": m.get("method", "geom"), "dataset": m["dataset"], "normal class": m["class_label"],
           "preset": m["preset"], "seed": _text(m["seed"]), "training images": _text(m.get("n_train")),
           "test images": _text(m.get("n_test")), "device": _text(m.get("device"))}
    for key, value in m.get("config", {}).items():
        out[key] = _text(value)
    transforms = run_transforms(run)
    if transforms is not None:
        spec = m["config"]["transforms"]
        chosen = ", chosen by auto" if "transform_selection" in m else ""
        out["transforms"] = f"{len(transforms)} ({spec_tag(spec)}{chosen})"
    return out


@dataclass(frozen=True)
class SettingDiff:
    """One setting on which two runs differ; "-" where a run lacks it."""

    name: str
    first: str
    second: str


def config_diff(first: RunInfo, second: RunInfo) -> list[SettingDiff]:
    """The settings (run_settings) whose values differ between two runs, in the first run's order then
    those only the second has."""
    a, b = run_settings(first), run_settings(second)
    names = list(a) + [n for n in b if n not in a]
    return [SettingDiff(n, a.get(n, "-"), b.get(n, "-")) for n in names if a.get(n, "-") != b.get(n, "-")]


@dataclass(frozen=True)
class ClassAuroc:
    """One anomalous class with the AUROC each run gets against it alone; None where that run has no
    test image of it as an anomaly (it is that run's normal class, or its test subset has none)."""

    label: int
    first: float | None
    second: float | None


def aligned_class_auroc(first: RunScores, second: RunScores, method: str) -> list[ClassAuroc]:
    """Both runs' AUROC of the ``method`` score per anomalous class (core.metrics.auroc_per_class),
    aligned on the class ids either run tested, in class order."""

    def per_class(s: RunScores) -> dict[int, float]:
        return auroc_per_class(s.labels, s.is_normal, s.score(method)) if has_both_groups(s.is_normal) else {}

    a, b = per_class(first), per_class(second)
    return [ClassAuroc(c, a.get(c), b.get(c)) for c in sorted(set(a) | set(b))]


def why_not_subtract(first: TransformSet | None, second: TransformSet | None) -> str | None:
    """None when two runs' softmax matrices can be subtracted (the same transforms in the same order,
    so row and column t mean the same in both); otherwise why not, in a sentence."""
    if first is None or second is None:
        return "One of the runs has no transform classifier (a baseline), so it has no softmax matrix."
    if first.transforms == second.transforms:
        return None
    if len(first) != len(second):
        return (f"The runs learned different transforms (run A {len(first)}, run B {len(second)}), so their "
                "softmax matrices differ in size and their rows do not stand for the same transforms: "
                "a difference of the two means nothing.")
    only: list[Transform] = [t for t in first.transforms if t not in second.transforms]
    if not only:
        return ("The runs learned the same transforms in another order, so row t stands for another "
                "transform in each matrix: a difference of the two means nothing.")
    return (f"The runs learned different transforms ({len(only)} of run A's are not run B's, e.g. "
            f"{only[0].name}), so their rows do not stand for the same transforms: a difference of the two "
            "means nothing.")

