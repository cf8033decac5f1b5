"""Choosing a run's transforms: ``--transforms`` as typed, and the ``auto`` rule.

A choice is a set name (``paper72``, ``flip_rot8``, ...; see core.transforms.TRANSFORM_SETS), a
comma-separated list of transforms of the preset's set by name (``id, rot90, flip rot180``), by
number (their position in the set, as the explorer's tiles show it: ``#12``) or by range
(``0-35``), or ``auto``.

``auto`` drops the transforms the classifier cannot tell apart on normal images, using no anomaly
labels. The rule, exactly:

1. Hold out HOLDOUT_SHARE of the normal training images (at most HOLDOUT_MAX, at least one), drawn
   with the run's seed, and train a *probe* detector on the rest with all the preset's transforms
   and the run's own config.
2. On the held-out images, for every pair of transforms (t, u): the AUROC with which the probe's
   probability of t (the right transform's probability, what the score reads for t) ranks the
   images transformed by t above the same images transformed by u. Below core.why.CHANCE_AUROC
   (0.6) the probe does not recognise t against u: its output for t is at chance between them.
3. Go through the transforms from the best recognised (mean probability of the right transform
   on the held-out images) to the worst, ties by number. Keep a transform when the probe
   recognises it against every transform kept so far; otherwise drop it: its *twin* is the kept
   transform it is least recognised against.

So every dropped transform has a kept twin it cannot be told from on normal images (it asks the
classifier a question it cannot answer on the normal class, so anomalies cannot fail it either).
Of two twins one stays: dropping both would also drop what the pair tells apart from the rest (on
a '1', every transform has a flipped, half-turned twin, and dropping both of each pair would leave
nothing). A transform the probe never recognises at all is at chance against the first one kept,
and goes. The final detector then trains on all the normal training images, held-out ones
included, with the kept transforms; the run records the choice (core.experiment writes it to
run.json). It costs one more training, the probe's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.config import GeomConfig
from core.detector import GeomDetector
from core.train import ProgressFn
from core.transforms import LIST_SEPARATOR, TRANSFORM_SET_NAMES, Transform, TransformSet
from core.why import CHANCE_AUROC, auroc_rows

AUTO = "auto"
HOLDOUT_SHARE = 0.2  # of the normal training images, held out of the probe's training
HOLDOUT_MAX = 1000  # enough to measure an AUROC to about +-0.02; the rest trains the probe
_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")


def valid_choices(base: TransformSet) -> str:
    """Every accepted form, for messages: a wrong choice is answered with all the right ones."""
    return (f"a set name ({', '.join(TRANSFORM_SET_NAMES)}), {AUTO}, or a comma-separated list of transforms of "
            f"{base.spec} by number (0-{len(base) - 1}, ranges like 0-35) or by name ({', '.join(base.names)})")


def parse_transforms(text: str, config: GeomConfig) -> str:
    """The config value for a ``--transforms`` choice (see the module docstring), checked against
    ``config`` (the preset's, for the dataset's image size): a set name, AUTO, or the canonical list
    of the chosen transforms of ``config``'s set in its order (the set's own name when the list holds
    all of it). ValueError naming every valid choice."""
    text, base = text.strip(), config.transform_set()
    if text == AUTO:
        return AUTO
    if text and LIST_SEPARATOR not in text and not _RANGE.fullmatch(text):
        try:
            return TransformSet.by_name(text, config.image_size).spec
        except ValueError:
            pass
    chosen: set[int] = set()
    for item in (part.strip() for part in text.split(LIST_SEPARATOR)):
        chosen |= _items(item, base)
    if len(chosen) < 2:
        raise ValueError(f"--transforms {text!r} chooses {len(chosen)} transform(s); a classifier needs at least "
                         f"2 to tell apart. Choose {valid_choices(base)}")
    if len(chosen) == len(base):
        return base.spec
    return TransformSet(tuple(base[i] for i in sorted(chosen))).spec


def _items(item: str, base: TransformSet) -> set[int]:
    """The positions in ``base`` one list item names: a number, a range or a transform name."""
    span = _RANGE.fullmatch(item)
    numbers = [int(item)] if item.isdigit() else [int(span[1]), int(span[2])] if span else None
    if numbers is not None:
        if max(numbers) >= len(base) or numbers[0] > numbers[-1]:
            raise ValueError(f"transform number {item!r} is outside 0-{len(base) - 1} of {base.spec}. "
                             f"Choose {valid_choices(base)}")
        return set(range(numbers[0], numbers[-1] + 1))
    try:
        return {base.transforms.index(Transform.from_name(item))}
    except ValueError:
        raise ValueError(f"unknown transform {item!r}. Choose {valid_choices(base)}") from None


@dataclass(frozen=True)
class Choice:
    """The rule's verdict on each transform of a set (see the module docstring)."""

    kept: tuple[int, ...]  # positions in the set, in order
    twin: tuple[int, ...]  # per transform: the one it is least recognised against (a kept one, for those dropped)
    twin_auroc: tuple[float, ...]  # per transform: how well the probe recognises it against its twin
    recognised: tuple[float, ...]  # per transform: mean p(right transform) on the held-out images


def choose_transforms(softmax: np.ndarray, threshold: float = CHANCE_AUROC) -> Choice:
    """Steps 2 and 3 of the rule on the probe's (n, k, k) softmax of n held-out normal images."""
    p = np.asarray(softmax, np.float64)
    n, k, _ = p.shape
    if n < 1 or k < 2:
        raise ValueError(f"the rule needs held-out images and at least 2 transforms, got softmax of shape {p.shape}")
    # told[t, u]: AUROC of p(t) on the images transformed by t against the images transformed by u.
    told = np.stack([auroc_rows(p[:, t, t], p[:, :, t].T) for t in range(k)])
    np.fill_diagonal(told, np.inf)
    recognised = np.diagonal(p, axis1=1, axis2=2).mean(0)
    kept: list[int] = []
    twin = [int(np.argmin(told[t])) for t in range(k)]
    for t in sorted(range(k), key=lambda t: (-recognised[t], t)):
        if kept and told[t, kept].min() < threshold:
            twin[t] = kept[int(np.argmin(told[t, kept]))]
        else:
            kept.append(t)
    return Choice(tuple(sorted(kept)), tuple(twin), tuple(float(told[t, twin[t]]) for t in range(k)),
                  tuple(float(r) for r in recognised))


@dataclass(frozen=True)
class Selection:
    """What ``auto`` chose for one run, and why; stored in run.json as :meth:`as_record`."""

    base: TransformSet
    choice: Choice
    holdout_images: int
    seconds: float

    @property
    def spec(self) -> str:
        """The config value of the kept transforms."""
        kept = TransformSet(tuple(self.base[i] for i in self.choice.kept))
        return self.base.spec if len(kept) == len(self.base) else kept.spec

    def as_record(self) -> dict[str, Any]:
        c, names = self.choice, self.base.names
        return {"rule": AUTO, "threshold": CHANCE_AUROC, "base": self.base.spec, "holdout_images": self.holdout_images,
                "seconds": round(self.seconds, 2), "kept": [names[t] for t in c.kept],
                "dropped": [{"transform": names[t], "twin": names[c.twin[t]], "auroc": round(c.twin_auroc[t], 4)}
                            for t in range(len(names)) if t not in c.kept]}


def holdout_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(probe training, held-out) positions of n normal training images: step 1 of the rule."""
    if n < 3:
        raise ValueError(f"auto needs at least 3 normal training images (2 to train a probe, 1 to hold out), got {n}")
    held = min(HOLDOUT_MAX, max(1, round(HOLDOUT_SHARE * n)))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def select_transforms(x_normal: np.ndarray, config: GeomConfig, device: str = "auto",
                      progress: ProgressFn | None = None, say: Callable[[str], None] | None = None) -> Selection:
    """The ``auto`` rule for ``config``'s transforms on these normal training images (uint8 N, H, W, C)."""
    start = time.perf_counter()
    train, held = holdout_split(len(x_normal), config.seed)
    base = config.transform_set()
    if say is not None:
        say(f"choosing transforms: a probe trains on {len(train)} images, {len(held)} held out")
    probe = GeomDetector(config, device).fit(x_normal[train], progress=progress)
    choice = choose_transforms(probe.softmax_matrix(x_normal[held]))
    if len(choice.kept) < 2:
        raise ValueError(f"the probe tells no two of the {len(base)} transforms apart on held-out normal images "
                         "(it is barely trained): train longer (more steps) before choosing transforms with auto")
    selection = Selection(base, choice, len(held), time.perf_counter() - start)
    if say is not None:
        say(f"auto keeps {len(choice.kept)} of {len(base)} transforms")
    return selection
