"""core.reproduce: the paper-style table writer (layout, SEM, paper column), resume, interruption."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest

import core.baselines.common as baseline_runs
import core.experiment as experiment
from core.data import FASHION_MNIST_CLASSES, load_dataset
from core.metrics import detection_metrics
from core.reproduce import (
    AVG,
    build_table,
    collect_runs,
    detail_markdown,
    reproduce,
    table_csv,
    table_markdown,
    table_records,
    write_tables,
)
from core.runs import RunInfo, find_runs, run_dir, write_run
from core.sweep import Job

FASHION = list(FASHION_MNIST_CLASSES)


def fake_run(method: str, cls: int, seed: int, auroc: float, dataset: str = "fashion_mnist",
             names: list[str] = FASHION, seconds: float = 10.0) -> RunInfo:
    """A run as read from disk, without the disk: only meta and metrics matter to the tables."""
    key = "dirichlet" if method == "geom" else "score"
    meta = {"method": method, "dataset": dataset, "normal_class": cls, "class_name": names[cls],
            "class_names": names, "seed": seed, "preset": "quick", "seconds": seconds, "score_key": key}
    return RunInfo(Path(f"/nowhere/{method}/{cls}/quick-seed{seed}"), meta,
                   {key: {"auroc": auroc, "aupr_in": auroc / 2, "aupr_out": 1 - auroc / 4}})


def test_table_means_sem_and_paper_column() -> None:
    geom = {c: [fake_run("geom", c, s, 0.90 + 0.01 * s) for s in range(3)] for c in range(10)}
    raw = {c: [fake_run("raw-ocsvm-hindsight", c, 0, 0.80)] for c in range(10)}
    t = build_table({"geom": geom, "raw-ocsvm-hindsight": raw}, "fashion_mnist", "auroc", FASHION, "quick")
    cell = t.cells[(1, "geom")]
    assert cell.n == 3 and cell.mean == pytest.approx(91.0)
    assert cell.sem == pytest.approx(np.std([90, 91, 92], ddof=1) / math.sqrt(3))
    # The paper's value beside ours, keyed by the standard label (Trouser is printed in row 9).
    assert cell.paper == 99.2 and cell.paper_sem == 0.0
    assert t.cells[(1, "raw-ocsvm-hindsight")].paper == 99.0
    assert t.cells[(1, "raw-ocsvm-hindsight")].sem is None  # one run: no SEM, as in the paper
    avg = t.cells[(AVG, "geom")]
    assert avg.mean == pytest.approx(91.0) and avg.paper == 93.5 and avg.paper_sem is None
    assert avg.sem == pytest.approx(np.std([90, 91, 92], ddof=1) / math.sqrt(3))  # over per-seed averages
    assert t.cells[(AVG, "raw-ocsvm-hindsight")].paper == 92.8



def test_dsebm_and_dagmm_tables_show_the_papers_columns() -> None:
    """Their paper_method names the CSV's columns: Trouser (printed row 9) 97.1 +- 0.3 and 34.0 +- 3.0."""
    runs = {m: {c: [fake_run(m, c, 0, 0.8)] for c in range(10)} for m in ("dsebm", "dagmm")}
    t = build_table(runs, "fashion_mnist", "auroc", FASHION, "quick")
    assert (t.cells[(1, "dsebm")].paper, t.cells[(1, "dsebm")].paper_sem) == (97.1, 0.3)
    assert (t.cells[(1, "dagmm")].paper, t.cells[(1, "dagmm")].paper_sem) == (34.0, 3.0)
    assert (t.cells[(AVG, "dsebm")].paper, t.cells[(AVG, "dagmm")].paper) == (86.6, 51.8)
    assert {"DSEBM paper", "DAGMM paper"} <= set(table_records(t)[0])


def test_adgan_table_shows_the_papers_column_without_sem() -> None:
    """ADGAN was run once: Trouser (printed row 9) 97.1 with no SEM, average 88.4."""
    runs = {"adgan": {c: [fake_run("adgan", c, 0, 0.8)] for c in range(10)}}
    t = build_table(runs, "fashion_mnist", "auroc", FASHION, "quick")
    assert (t.cells[(1, "adgan")].paper, t.cells[(1, "adgan")].paper_sem) == (97.1, None)
    assert t.cells[(AVG, "adgan")].paper == 88.4
    assert "ADGAN paper" in table_records(t)[0]

def test_markdown_and_csv_layout() -> None:
    runs = {"geom": {c: [fake_run("geom", c, 0, 0.9), fake_run("geom", c, 1, 0.92)] for c in range(10)},
            "raw-ocsvm-fair": {c: [fake_run("raw-ocsvm-fair", c, 0, 0.85)] for c in range(9)}}  # class 9 missing
    t = build_table(runs, "fashion_mnist", "auroc", FASHION, "quick")
    md = table_markdown(t)
    lines = md.splitlines()
    header = lines[2]
    assert header == ("| class | GEOM ours | GEOM paper | RAW-OC-SVM (fair) ours | RAW-OC-SVM paper (hindsight) |")
    body = [ln for ln in lines if ln.startswith("| ") and ln != header]
    assert len(body) == 11  # ten classes and the average
    assert body[0].startswith("| 0 T-shirt/top | 91.0 ± 1.0 | 90.8 ± 0.1 | 85.0 | 91.9 |")
    assert body[-1].startswith("| **avg** | 91.0 ± 1.0 | 93.5 | – | 92.8 |")  # incomplete method: no average
    assert "9/10 classes" in md and "hindsight" in md
    rows = list(csv.DictReader(io.StringIO(table_csv(t))))
    assert [r["class_index"] for r in rows] == [str(c) for c in range(10)] + ["avg"]
    assert rows[1]["class_name"] == "Trouser" and rows[1]["geom"] == "91.00" and rows[1]["geom_paper"] == "99.20"
    assert rows[9]["raw-ocsvm-fair"] == "" and rows[9]["raw-ocsvm-fair_n"] == "0"
    assert rows[0]["geom_sem"] == "1.00"
    recs = table_records(t)
    assert recs[0]["class"] == "0 T-shirt/top" and recs[-1]["class"] == "avg"


def test_datasets_without_paper_numbers_have_no_paper_column() -> None:
    names = [str(i) for i in range(10)]
    runs = {"raw-ocsvm-fair": {c: [fake_run("raw-ocsvm-fair", c, 0, 0.9, "mnist", names)] for c in range(10)}}
    t = build_table(runs, "mnist", "aupr_in", names, "quick")
    assert list(table_records(t)[0]) == ["class", "RAW-OC-SVM (fair) ours"]
    assert table_records(t)[3]["class"] == "3" and table_records(t)[0]["RAW-OC-SVM (fair) ours"] == "45.0"


def test_failed_jobs_are_named_under_the_tables() -> None:
    runs = {"geom": {c: [fake_run("geom", c, 0, 0.9)] for c in range(10) if c != 3}}
    failures = {Job("geom", "fashion_mnist", 3, "quick", 0): "DataError: no data on this worker",
                Job("geom", "mnist", 3, "quick", 0): "another dataset's job: not this table's"}
    t = build_table(runs, "fashion_mnist", "auroc", FASHION, "quick", failures)
    assert t.cells[(3, "geom")].n == 0 and t.cells[(AVG, "geom")].mean is None
    assert table_markdown(t).rstrip().endswith("- missing: geom class 3 seed 0: DataError: no data on this worker")
    assert build_table(runs, "fashion_mnist", "auroc", FASHION, "quick").missing == []


def test_write_tables_files(tmp_path: Path) -> None:
    runs = {"geom": {c: [fake_run("geom", c, 0, 0.9)] for c in range(10)}}
    tables = [build_table(runs, "fashion_mnist", m, FASHION, "quick") for m in ("auroc", "aupr_in", "aupr_out")]
    paths = write_tables(tables, tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        [f"fashion_mnist_quick_{m}.{ext}" for m in ("auroc", "aupr_in", "aupr_out") for ext in ("csv", "md")]
        + ["fashion_mnist_quick.md"])
    assert "AUPR-out" in (tmp_path / "fashion_mnist_quick.md").read_text()


def test_detail_table_gives_every_score_and_the_cost_per_class() -> None:
    def run(cls: int, seed: int, dirichlet: float, simple: float, train_s: float) -> RunInfo:
        r = fake_run("geom", cls, seed, dirichlet)
        r.metrics["simple"] = {"auroc": simple}
        r.meta.update(train_seconds=train_s, score_seconds=5.0, seconds=train_s + 5.0, cpu_seconds=2 * (train_s + 5))
        return r

    runs = {"geom": {c: [run(c, 0, 0.90, 0.80, 10.0), run(c, 1, 0.92, 0.84, 20.0)] for c in range(10)},
            "raw-ocsvm-fair": {0: [fake_run("raw-ocsvm-fair", 0, 0, 0.7)]}}
    md = detail_markdown(runs, "fashion_mnist", FASHION, "quick")
    geom, svm = md.split("### ")[1:]
    lines = geom.strip().splitlines()
    assert lines[0] == "Fashion-MNIST: GEOM per class, preset `quick`"
    assert lines[2] == "| class | AUROC dirichlet | AUROC simple | paper | train s | score s | total s | CPU s |"
    # means over the two seeds; the paper's Trouser value beside ours
    assert lines[5] == "| 1 Trouser | 91.0 | 82.0 | 99.2 | 15 | 5 | 20 | 40 |"
    assert lines[-1] == "| **mean** | 91.0 | 82.0 | 93.5 | 15 | 5 | 20 | 40 |"
    # a method with one class done: its row, no mean row
    assert [ln.split(" | ")[0] for ln in svm.splitlines() if ln.startswith("| ")][1:] == ["| 0 T-shirt/top"]


# ----- running, resuming ------------------------------------------------------------------------------
def _fake_geom_run(root: Path, cls: int, seed: int = 0) -> None:
    """A finished GEOM run folder (as run_one_class would leave), so tests need not train a WRN."""
    d = load_dataset("digits")
    is_normal = d.y_test == cls
    score = is_normal + np.random.default_rng(cls).normal(scale=0.5, size=len(is_normal))
    meta = {"method": "geom", "dataset": "digits", "normal_class": cls, "class_name": str(cls),
            "class_label": str(cls), "class_names": list(d.class_names), "preset": "tiny", "seed": seed, "seconds": 1.0}
    metrics = {"dirichlet": detection_metrics(is_normal, score)}
    write_run(run_dir(root, "geom", "digits", cls, f"tiny-seed{seed}"), meta, metrics,
              {"test_index": np.arange(len(is_normal)), "labels": d.y_test, "is_normal": is_normal, "dirichlet": score})


def _forbid_training(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"geom": 0, "baseline": 0}

    def geom(*_a, **_k):
        calls["geom"] += 1
        raise AssertionError("GEOM was trained although its run folder was complete")

    def baseline(*_a, **_k):
        calls["baseline"] += 1
        raise AssertionError("a baseline was trained although its run folder was complete")

    monkeypatch.setattr(experiment, "run_one_class", geom)
    monkeypatch.setattr(baseline_runs, "run_baseline", baseline)
    return calls


@pytest.fixture
def no_geom_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """GEOM runs appear instantly as fake folders instead of training a WRN."""
    def fake(request, **_kwargs):
        root = Path(request.out)
        _fake_geom_run(root, int(request.normal_class), request.seed)
        return find_runs(root / "geom" / "digits" / str(request.normal_class))[0]

    monkeypatch.setattr(experiment, "run_one_class", fake)


def test_resume_trains_nothing_the_second_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               no_geom_training: None) -> None:
    from core.baselines.deep_svdd import DeepSVDD

    monkeypatch.setitem(DeepSVDD.presets, "tiny", {**DeepSVDD.presets["tiny"], "epochs": 1, "pretrain_epochs": 0})
    out, tables = tmp_path / "runs", tmp_path / "tables"
    for c in (0, 1):
        _fake_geom_run(out, c)  # GEOM seed 0 is already there: reused; seed 1 gets "trained" (faked)
    kwargs = dict(dataset="digits", methods="geom,raw-ocsvm-fair,deep-svdd", preset="tiny", runs=2, device="cpu",
                  out=str(out), tables_dir=tables, classes=[0, 1])
    first = reproduce(**kwargs)
    # per class: GEOM seed 1, the OC-SVM once (the paper ran it once), Deep SVDD seeds 0 and 1
    assert (first.trained, first.reused) == (2 * 4, 2)
    calls = _forbid_training(monkeypatch)
    second = reproduce(**kwargs)
    assert calls == {"geom": 0, "baseline": 0}
    assert (second.trained, second.reused) == (0, 10)
    t = second.tables[0]
    assert t.cells[(0, "deep-svdd")].n == 2 and t.cells[(0, "raw-ocsvm-fair")].n == 1 and t.cells[(1, "geom")].n == 2
    assert (tables / "digits_tiny_auroc.md").is_file()


def test_interrupted_reproduce_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "runs"
    real = baseline_runs.run_baseline
    count = {"n": 0}

    def flaky(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third fit
        return real(*args, **kwargs)

    monkeypatch.setattr(baseline_runs, "run_baseline", flaky)
    kwargs = dict(dataset="digits", methods="raw-ocsvm", preset="tiny", device="cpu", out=str(out),
                  tables_dir=tmp_path / "t", classes=[0, 1])
    with pytest.raises(KeyboardInterrupt):
        reproduce(**kwargs)
    done = find_runs(out)
    assert len(done) == 2
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no half-written folder left behind
    monkeypatch.setattr(baseline_runs, "run_baseline", real)
    result = reproduce(**kwargs)
    assert (result.trained, result.reused) == (2, 2)


def test_tables_only_trains_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "runs"
    _fake_geom_run(out, 4)
    calls = _forbid_training(monkeypatch)
    result = reproduce("digits", "geom,raw-ocsvm", "tiny", out=str(out), tables_dir=tmp_path / "t", train=False)
    assert calls == {"geom": 0, "baseline": 0} and result.trained == 0
    t = result.tables[0]
    assert t.cells[(4, "geom")].n == 1 and t.cells[(3, "geom")].n == 0
    assert t.cells[(AVG, "geom")].mean is None


def test_collect_runs_ignores_other_presets_and_overrides(tmp_path: Path) -> None:
    _fake_geom_run(tmp_path, 0)
    _fake_geom_run(tmp_path, 1)
    src = run_dir(tmp_path, "geom", "digits", 1, "tiny-seed0")
    (src.parent / "tiny-steps5-seed0").mkdir()
    for f in src.iterdir():
        (src.parent / "tiny-steps5-seed0" / f.name).write_bytes(f.read_bytes())
    got = collect_runs(tmp_path, "digits", ["geom"], "tiny")
    assert sorted(got["geom"]) == [0, 1] and len(got["geom"][1]) == 1
    assert collect_runs(tmp_path, "digits", ["geom"], "quick") == {"geom": {}}


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="valid methods: geom, raw-ocsvm-hindsight"):
        reproduce("digits", "geom,svm", out=str(tmp_path))
    with pytest.raises(ValueError, match="at least 1"):
        reproduce("digits", "geom", runs=0, out=str(tmp_path))
