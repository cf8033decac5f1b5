"""Turn a user's class choice (an id, a name, or a label such as "3 - cat") into a label id."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from core.data.dataset import ClassNames, DataError


def parse_class(dataset: ClassNames, cls: str | int) -> int:
    """Turn a user's class choice into a label id.

    Accepts an id (``3`` or ``"3"``), a name (``"cat"``, case-insensitive, punctuation ignored, a
    unique prefix is enough: ``"t-shirt"``), or a :meth:`ImageDataset.class_label` string
    (``"3 - cat"``). Text that reads as a whole number is always an id, read before any name
    matching: the name matcher ignores punctuation, so ``"-1"`` would otherwise become class
    ``"1"``. Negative ids are refused. A folder dataset whose class folders are called ``"1"``,
    ``"2"``, ... is therefore chosen by id or by label (``"0 - 1"``), as the app and the CLI list them.
    """
    valid = ", ".join(dataset.class_labels())
    if isinstance(cls, (bool, np.bool_)):
        raise DataError(f"class must be an id or a name, got {cls!r}; valid classes: {valid}")
    if isinstance(cls, (int, np.integer)):
        return _class_id(dataset, int(cls))
    if not isinstance(cls, str):
        raise DataError(f"class must be an id or a name, got {type(cls).__name__}; valid classes: {valid}")
    text = cls.strip()
    if re.fullmatch(r"[+-]?\s*\d+", text):
        return _class_id(dataset, int(re.sub(r"\s+", "", text)))
    by_name = _match_class_name(dataset.class_names, text)
    if by_name is not None:
        return by_name
    m = re.fullmatch(r"(\d+)\s*[-:.)]\s*(.+)", text)
    if m:
        idx = _class_id(dataset, int(m.group(1)))
        if _norm(m.group(2)) == _norm(dataset.class_names[idx]):
            return idx
        raise DataError(f"class {cls!r}: id {idx} is {dataset.class_label(idx)!r}, not {m.group(2)!r}; "
                        f"valid classes: {valid}")
    raise DataError(f"unknown class {cls!r} for {dataset.name}; valid classes: {valid}")


def _class_id(dataset: ClassNames, idx: int) -> int:
    """``idx`` itself when it is a class id of ``dataset``, else a DataError listing the valid ones."""
    n = dataset.num_classes
    if idx < 0:
        raise DataError(f"class id {idx} is negative: ids run from 0 to {n - 1} for {dataset.name}; "
                        f"valid classes: {', '.join(dataset.class_labels())}")
    if idx >= n:
        raise DataError(f"class id {idx} is out of range 0..{n - 1} for {dataset.name}; "
                        f"valid classes: {', '.join(dataset.class_labels())}")
    return idx


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _match_class_name(names: Sequence[str], text: str) -> int | None:
    lowered = [c.lower() for c in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    key = _norm(text)
    if not key:
        return None
    normed = [_norm(c) for c in names]
    if key in normed:
        return normed.index(key)
    prefixed = [i for i, c in enumerate(normed) if c.startswith(key)]
    if len(prefixed) == 1 and len(key) >= 3:
        return prefixed[0]
    return None
