"""The paper's published numbers (Golan & El-Yaniv 2018, Tables 1-3), for comparing our runs.

The tables live as long-format CSVs in ``assets/`` (``dataset,class_index,method,mean,sem,note``),
typed from the paper so the app and tests never parse the PDF. All values are in percent exactly
as printed (e.g. 93.5, not 0.935); divide by 100 before comparing with a raw AUROC.

- ``class_index`` is the normal class (0..9 for CIFAR-10 and Fashion-MNIST, 0..19 for the CIFAR-100
  superclasses, 0..1 for Cats-vs-Dogs) or ``"avg"`` for the printed dataset average.
- Methods: ``raw-ocsvm``, ``cae-ocsvm``, ``deep-svdd`` (Table 1, CIFAR-10 only), ``dagmm``,
  ``dsebm``, ``adgan``, ``geom`` (the paper's own column).
- ``sem`` is ``None`` where the paper prints none: the OC-SVM and ADGAN columns were run once, and
  the ``avg`` rows carry no SEM.
- Class indices follow each dataset's standard label order (Fashion-MNIST: 0 T-shirt/top,
  1 Trouser, ..., 9 Ankle boot). The CSVs store the rows as printed, and the paper prints its
  Fashion-MNIST rows in ALPHABETICAL order of the class names: its appendix C says so (0 Ankle-boot,
  1 Bag, 2 Coat, ..., 8 T-shirt, 9 Trouser), the authors' table script sorts rows by class name
  (experiments.py, create_auc_table), and our hindsight RAW-OC-SVM (a deterministic method) matches
  the alphabetical rows class by class (e.g. Trouser 99.0 = printed row 9; T-shirt 91.9 = row 8),
  not the standard ones (row 1 is 90.3). The loader maps printed row -> standard label
  (:data:`FASHION_MNIST_PAPER_ROWS`); :func:`paper_row` gives the printed row back. The other
  datasets' class names are already in alphabetical order, so their rows need no mapping.
- One cell is not cleanly legible in the source text: Table 2 (AUPR-in), Cats-vs-Dogs, class 1,
  CAE-OC-SVM. It is stored as 40.7, which the printed average confirms; see the CSV's note.
- Section 5.5's out-of-distribution figures (CIFAR-10 against tiny-ImageNet resized, from ODIN's
  release; GEOM and ODIN) are ``assets/paper_ood.csv``, one row per method with its three metrics
  (:func:`paper_ood`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

METRICS: tuple[str, ...] = ("auroc", "aupr_in", "aupr_out")

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"

_FILES: dict[str, str] = {
    "auroc": "paper_table1_auroc.csv",
    "aupr_in": "paper_table2_aupr_in.csv",
    "aupr_out": "paper_table3_aupr_out.csv",
}


@dataclass(frozen=True)
class PaperValue:
    """One printed cell: mean in %, and its SEM in % (None when the paper gives none)."""

    mean: float
    sem: float | None


def _check_metric(metric: str) -> str:
    """Fail loudly on a typo rather than silently returning no numbers."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    return metric


# The paper's Fashion-MNIST rows in printed order, as standard label ids: printed row r is the class
# FASHION_MNIST_PAPER_ROWS[r] (Ankle boot, Bag, Coat, Dress, Pullover, Sandal, Shirt, Sneaker,
# T-shirt/top, Trouser: alphabetical). See the module docstring for the evidence.
FASHION_MNIST_PAPER_ROWS: tuple[int, ...] = (9, 8, 4, 3, 2, 5, 6, 7, 0, 1)
_PRINTED_ROW_TO_LABEL: dict[str, tuple[int, ...]] = {"fashion_mnist": FASHION_MNIST_PAPER_ROWS}


def _parse_class_index(value: str, dataset: str = "") -> int | str:
    """Per-class rows become standard label ints (so callers pass the class as a number); 'avg' stays a str."""
    if value == "avg":
        return value
    row = int(value)
    mapping = _PRINTED_ROW_TO_LABEL.get(dataset)
    return mapping[row] if mapping is not None else row


def paper_row(dataset: str, class_index: int) -> int:
    """The row the paper prints a class in (differs from the label id only for Fashion-MNIST)."""
    mapping = _PRINTED_ROW_TO_LABEL.get(dataset)
    return mapping.index(class_index) if mapping is not None else class_index


@cache
def _load(metric: str) -> tuple[dict, ...]:
    """Read one table once per process; rows are returned as fresh dict copies by paper_table."""
    rows = []
    with open(ASSETS_DIR / _FILES[metric], newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            rows.append(
                {
                    "dataset": raw["dataset"],
                    "class_index": _parse_class_index(raw["class_index"], raw["dataset"]),
                    "method": raw["method"],
                    "mean": float(raw["mean"]),
                    "sem": float(raw["sem"]) if raw["sem"] else None,
                    "note": raw.get("note") or "",
                }
            )
    return tuple(rows)


@cache
def _index(metric: str) -> dict[tuple[str, int | str, str], PaperValue]:
    """(dataset, class_index, method) -> value, for O(1) lookups from the UI."""
    return {
        (r["dataset"], r["class_index"], r["method"]): PaperValue(r["mean"], r["sem"])
        for r in _load(metric)
    }


def paper_table(metric: str = "auroc") -> list[dict]:
    """All rows of one table, parsed (class_index int or 'avg', mean float, sem float or None).

    Returns copies, so callers may mutate them without corrupting the cache.
    """
    return [dict(r) for r in _load(_check_metric(metric))]


def paper_value(
    dataset: str,
    class_index: int | str,
    metric: str = "auroc",
    method: str = "geom",
) -> PaperValue | None:
    """The paper's number for one (dataset, normal class, method), in %; None where it has none.

    None covers datasets the tables do not include (e.g. mnist), methods absent for a dataset
    (deep-svdd outside CIFAR-10) and out-of-range classes. ``class_index`` may be an int, a
    digit string, or ``"avg"`` for the dataset average.
    """
    _check_metric(metric)
    if isinstance(class_index, str) and class_index != "avg":
        if not class_index.isdigit():
            return None
        class_index = int(class_index)
    return _index(metric).get((dataset, class_index, method))


def paper_datasets() -> tuple[str, ...]:
    """Registry names of the datasets the paper reports, in table order."""
    seen: dict[str, None] = {}
    for r in _load("auroc"):
        seen.setdefault(r["dataset"], None)
    return tuple(seen)


@dataclass(frozen=True)
class PaperOod:
    """One method's Section 5.5 figures, in %: trained on ``in_dataset``, tested against ``out_dataset``."""

    in_dataset: str
    out_dataset: str
    method: str  # geom (the paper's two-headed WRN) or odin
    values: dict[str, float]  # metric (METRICS) -> value in %
    note: str


@cache
def _ood_rows() -> tuple[PaperOod, ...]:
    with open(ASSETS_DIR / "paper_ood.csv", newline="", encoding="utf-8") as f:
        return tuple(PaperOod(r["in_dataset"], r["out_dataset"], r["method"], {m: float(r[m]) for m in METRICS},
                              r["note"]) for r in csv.DictReader(f))


def paper_ood(in_dataset: str | None = None) -> list[PaperOod]:
    """Section 5.5's published figures, of one in-distribution dataset or all. The paper's OOD set
    (tiny-ImageNet resized) is not this project's data, so they set ours in context, no more."""
    return [r for r in _ood_rows() if in_dataset is None or r.in_dataset == in_dataset]
