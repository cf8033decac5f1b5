"""Reproduce the paper's Tables 1-3 on one dataset: every class, several methods, resumable.

``reproduce(...)`` plans every normal class of a dataset x method x seed as a job
(:mod:`core.sweep`), reuses each complete run folder (``<root>/<method>/<dataset>/<class>/<preset>-seed<seed>/``)
and has a backend train the rest through each detector's ``run_one_vs_all`` (:mod:`core.base_detector`):
one after another here, or as Ray tasks on several GPUs or a cluster (:mod:`core.ray_backend`). Run
folders are written atomically, so an interrupted reproduce loses at most the runs in progress and
the next call picks up where it stopped; a job that failed on Ray is named under the tables.

Tables follow the paper's layout: one per metric (AUROC, AUPR-in, AUPR-out), a row per normal class
plus the dataset average, and for each method our mean +- SEM over runs with the paper's published
value beside it. :func:`build_table` is pure (runs in, table out) so the explorer draws the same
table the command line writes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.baselines import DETECTORS, GEOM, SCORE_KEY, detector_class, method_title, paper_method, parse_methods
from core.config import PRESETS
from core.data import RECORDS, dataset_classes, parse_class
from core.metrics import mean_sem
from core.paper_tables import METRICS, paper_value
from core.runs import RunInfo, find_runs, results_root, run_seed_pattern
from core.sweep import Backend, Job, JobOutcome, LocalBackend, Report, Tally, plan_jobs, run_job, sweep

METRIC_TITLES = {"auroc": "AUROC", "aupr_in": "AUPR-in", "aupr_out": "AUPR-out"}
PAPER_TABLE_NUMBER = {"auroc": 1, "aupr_in": 2, "aupr_out": 3}
DATASET_TITLES = {name: record.title for name, record in RECORDS.items()}
DEFAULT_TABLES_DIR = Path("benchmarks") / "results"
AVG = "avg"


def score_key(run: RunInfo) -> str:
    """The metrics.json / scores.npz key of a run's main normality score."""
    detector = DETECTORS.get(run.meta.get("method", GEOM))
    return run.meta.get("score_key") or (detector.score_key if detector is not None else SCORE_KEY)


def seeds_for(method: str, runs: int, seed: int) -> list[int]:
    """Seeds to run: ``runs`` of them, or only the first for methods the paper ran once (the OC-SVMs)."""
    if detector_class(method).run_once:
        return [seed]
    return list(range(seed, seed + runs))


# ----- collecting runs ---------------------------------------------------------------------------
def evaluated(runs: list[RunInfo]) -> list[RunInfo]:
    """The runs with metrics: one trained on normal-only data (no anomalies to test on) has no cell in a table."""
    return [run for run in runs if run.metrics]


def collect_runs(root: str | Path, dataset: str, methods: list[str], preset: str,
                 seeds: dict[str, list[int]] | None = None) -> dict[str, dict[int, list[RunInfo]]]:
    """method -> normal class -> complete plain-preset runs (sorted by seed), optionally only some seeds."""
    pattern = run_seed_pattern(preset)
    out: dict[str, dict[int, list[RunInfo]]] = {m: defaultdict(list) for m in methods}
    for run in evaluated(find_runs(root, dataset=dataset)):
        method = run.meta.get("method", GEOM)
        match = pattern.match(run.path.name)
        if method not in out or not match or run.meta.get("preset") != preset:
            continue
        if seeds is not None and int(match.group(1)) not in seeds.get(method, []):
            continue
        out[method][int(run.meta["normal_class"])].append(run)
    for by_class in out.values():
        for runs in by_class.values():
            runs.sort(key=lambda r: r.meta.get("seed", 0))
    return {m: dict(v) for m, v in out.items()}


def available_datasets(root: str | Path) -> dict[str, set[str]]:
    """dataset -> presets with at least one complete plain-preset run under ``root`` of a one-class method
    (an out-of-distribution run has no place in these tables)."""
    found: dict[str, set[str]] = defaultdict(set)
    for run in evaluated(find_runs(root)):
        preset = run.meta.get("preset")
        if run.meta.get("method", GEOM) in DETECTORS and preset and run_seed_pattern(preset).match(run.path.name):
            found[run.meta["dataset"]].add(preset)
    return dict(found)


# ----- tables ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One table cell, in percent: ours (mean, SEM, number of runs) and the paper's printed value."""

    mean: float | None
    sem: float | None
    n: int
    paper: float | None
    paper_sem: float | None


@dataclass
class ResultTable:
    dataset: str
    preset: str
    metric: str
    methods: list[str]
    class_names: list[str]
    cells: dict[tuple[int | str, str], Cell]  # (class index or "avg", method) -> cell
    seconds: dict[str, list[float]] = field(default_factory=dict)  # method -> seconds of every run used
    seeds: dict[str, list[int]] = field(default_factory=dict)  # method -> seeds present
    missing: list[str] = field(default_factory=list)  # "<method> class <c> seed <s>: <error>" of failed jobs

    @property
    def rows(self) -> list[int | str]:
        return [*range(len(self.class_names)), AVG]

    def row_label(self, row: int | str) -> str:
        if row == AVG:
            return AVG
        name = self.class_names[int(row)]
        return name if name == str(row) else f"{row} {name}"

    def has_paper(self, method: str) -> bool:
        return any(self.cells[(r, method)].paper is not None for r in self.rows)

    def complete(self, method: str) -> int:
        """Number of classes with at least one run."""
        return sum(self.cells[(c, method)].n > 0 for c in range(len(self.class_names)))


def build_table(runs: dict[str, dict[int, list[RunInfo]]], dataset: str, metric: str, class_names: list[str],
                preset: str = "", failures: dict[Job, str] | None = None) -> ResultTable:
    """Ours (mean +- SEM over runs, %) beside the paper's value for every class, plus the average;
    ``failures`` (a sweep's failed jobs and their errors) become the table's ``missing`` notes.

    The average row is the mean of the class means, given only when every class has a run; its SEM
    is over per-seed dataset averages when every class has the same seeds (2 or more), else none
    (the paper prints no SEM on its averages either).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    cells: dict[tuple[int | str, str], Cell] = {}
    seconds: dict[str, list[float]] = {}
    seeds: dict[str, list[int]] = {}
    methods = list(runs)
    for method in methods:
        pm = paper_method(method)
        by_class = runs[method]
        per_seed: dict[int, dict[int, float]] = defaultdict(dict)
        class_means = []
        seconds[method], seen_seeds = [], set()
        for c in range(len(class_names)):
            vals = []
            for run in by_class.get(c, []):
                v = 100 * run.metrics[score_key(run)][metric]
                vals.append(v)
                per_seed[int(run.meta.get("seed", 0))][c] = v
                seconds[method].append(float(run.meta.get("seconds", 0.0)))
                seen_seeds.add(int(run.meta.get("seed", 0)))
            mean, sem = mean_sem(vals) if vals else (None, None)
            if vals:
                class_means.append(mean)
            pv = paper_value(dataset, c, metric, pm)
            cells[(c, method)] = Cell(mean, sem if len(vals) > 1 else None, len(vals),
                                      None if pv is None else pv.mean, None if pv is None else pv.sem)
        seeds[method] = sorted(seen_seeds)
        avg_mean = avg_sem = None
        if class_means and len(class_means) == len(class_names):
            avg_mean = float(np.mean(class_means))
            full = [s for s, d in per_seed.items() if len(d) == len(class_names)]
            if len(full) >= 2 and len(full) == len(per_seed):
                avg_sem = mean_sem([np.mean(list(per_seed[s].values())) for s in full])[1]
        pv = paper_value(dataset, AVG, metric, pm)
        n_avg = min((cells[(c, method)].n for c in range(len(class_names))), default=0)
        cells[(AVG, method)] = Cell(avg_mean, avg_sem, n_avg if avg_mean is not None else 0,
                                    None if pv is None else pv.mean, None if pv is None else pv.sem)
    missing = [f"{job.label}: {error}" for job, error in (failures or {}).items()
               if job.method in runs and job.dataset == dataset]
    return ResultTable(dataset, preset, metric, methods, list(class_names), cells, seconds, seeds, missing)


def _fmt(mean: float | None, sem: float | None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.1f} ± {sem:.1f}" if sem is not None else f"{mean:.1f}"


def table_columns(table: ResultTable) -> list[tuple[str, str, str]]:
    """(method, 'ours' or 'paper', header) in display order: each method's paper column beside ours."""
    cols = []
    for m in table.methods:
        cols.append((m, "ours", f"{method_title(m)} ours"))
        if table.has_paper(m):
            suffix = " (hindsight)" if m.endswith("-fair") else ""
            cols.append((m, "paper", f"{method_title(m).replace(' (fair)', '')} paper{suffix}"))
    return cols


def table_records(table: ResultTable) -> list[dict[str, str]]:
    """The formatted table as rows of {column header: text}, for Markdown and the explorer."""
    records = []
    for row in table.rows:
        rec = {"class": table.row_label(row)}
        for m, kind, header in table_columns(table):
            cell = table.cells[(row, m)]
            rec[header] = _fmt(cell.mean, cell.sem) if kind == "ours" else _fmt(cell.paper, cell.paper_sem)
        records.append(rec)
    return records


def table_markdown(table: ResultTable) -> str:
    title = (f"{DATASET_TITLES.get(table.dataset, table.dataset)}: {METRIC_TITLES[table.metric]} (%), "
             f"preset `{table.preset}`")
    records = table_records(table)
    headers = list(records[0])
    rule = "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", rule]
    for rec in records:
        label = f"**{rec['class']}**" if rec["class"] == AVG else rec["class"]
        lines.append("| " + " | ".join([label] + [rec[h] for h in headers[1:]]) + " |")
    lines += ["", *table_notes(table)]
    return "\n".join(lines) + "\n"


def table_notes(table: ResultTable) -> list[str]:
    n = len(table.class_names)
    with_paper = [m for m in table.methods if table.has_paper(m)]
    source = (f"paper: Golan & El-Yaniv (2018), Table {PAPER_TABLE_NUMBER[table.metric]}" if with_paper
              else "the paper reports no numbers for this dataset and these methods")
    notes = [f"- ours: mean ± SEM over runs (a single run shows no SEM); {source}. "
             f"The avg row averages the class means and needs all {n} classes."]
    for m in table.methods:
        done, secs = table.complete(m), table.seconds.get(m, [])
        timing = f"{np.mean(secs):.0f} s per run, {np.sum(secs) / 60:.1f} min in all" if secs else "no runs"
        seeds = ", ".join(map(str, table.seeds.get(m, []))) or "–"
        notes.append(f"- {method_title(m)}: {done}/{n} classes, seeds {seeds}; {timing}.")
    if any(m.endswith("-hindsight") for m in table.methods):
        repeat = ("; its paper column repeats the paper's hindsight number"
                  if any(m.endswith("-fair") for m in with_paper) else "")
        notes.append("- hindsight: the OC-SVM's nu and gamma were picked by the best AUROC on the labelled test set, "
                     f"as the paper did (an unfair advantage). fair: gamma='scale', nu=0.1, no test labels{repeat}.")
    notes += [f"- missing: {line}" for line in table.missing]
    return notes


def detail_markdown(runs: dict[str, dict[int, list[RunInfo]]], dataset: str, class_names: list[str],
                    preset: str) -> str:
    """Per method, a row per class: AUROC of every score the runs saved, the paper's, and what the
    class cost (train, score, total and CPU seconds; means over seeds). The AUROC tables answer "how
    good"; this one answers "at what price", which on a CPU decides whether a preset is usable."""
    title = DATASET_TITLES.get(dataset, dataset)
    blocks = []
    for method, by_class in runs.items():
        done = [c for c in range(len(class_names)) if by_class.get(c)]
        if not done:
            continue
        keys = list(dict.fromkeys(k for c in done for run in by_class[c] for k in run.metrics))
        columns = [*(f"AUROC {k}" for k in keys), "paper", "train s", "score s", "total s", "CPU s"]
        lines = [f"### {title}: {method_title(method)} per class, preset `{preset}`", "",
                 "| class | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
        table_rows: list[list[float | None]] = []
        for c in done:
            class_runs = by_class[c]
            paper = paper_value(dataset, c, "auroc", paper_method(method))
            row = [float(np.mean([100 * r.metrics[k]["auroc"] for r in class_runs if k in r.metrics])) for k in keys]
            row.append(None if paper is None else paper.mean)
            row += [float(np.mean([float(r.meta.get(f, 0.0)) for r in class_runs]))
                    for f in ("train_seconds", "score_seconds", "seconds", "cpu_seconds")]
            table_rows.append(row)
            label = class_names[c] if class_names[c] == str(c) else f"{c} {class_names[c]}"
            lines.append(f"| {label} | " + " | ".join(_detail_cell(v, i, len(keys) + 1) for i, v in enumerate(row))
                         + " |")
        if len(done) == len(class_names):
            means = [None if any(r[i] is None for r in table_rows) else float(np.mean([r[i] for r in table_rows]))
                     for i in range(len(columns))]
            paper_avg = paper_value(dataset, AVG, "auroc", paper_method(method))
            means[len(keys)] = None if paper_avg is None else paper_avg.mean  # the paper's printed average
            lines.append("| **mean** | " + " | ".join(_detail_cell(v, i, len(keys) + 1) for i, v in enumerate(means))
                         + " |")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _detail_cell(value: float | None, column: int, n_percent: int) -> str:
    """Percentages with one decimal, seconds as whole numbers."""
    if value is None:
        return "–"
    return f"{value:.1f}" if column < n_percent else f"{value:.0f}"


def table_csv(table: ResultTable) -> str:
    """Wide CSV: one row per class + avg; per method ours (mean, sem, n) and the paper's (mean, sem), in %."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["dataset", "preset", "metric", "class_index", "class_name"]
    for m in table.methods:
        header += [m, f"{m}_sem", f"{m}_n", f"{m}_paper", f"{m}_paper_sem"]
    w.writerow(header)
    num = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    for row in table.rows:
        name = AVG if row == AVG else table.class_names[int(row)]
        out: list[Any] = [table.dataset, table.preset, table.metric, row, name]
        for m in table.methods:
            c = table.cells[(row, m)]
            out += [num(c.mean), num(c.sem), c.n, num(c.paper), num(c.paper_sem)]
        w.writerow(out)
    return buf.getvalue()


def write_tables(tables: list[ResultTable], out_dir: str | Path, details: str = "") -> list[Path]:
    """``<dataset>_<preset>_<metric>.csv`` and ``.md`` per table, plus ``<dataset>_<preset>.md`` with all
    three and ``details`` (:func:`detail_markdown`) after them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in tables:
        stem = out_dir / f"{t.dataset}_{t.preset}_{t.metric}"
        for suffix, text in ((".csv", table_csv(t)), (".md", table_markdown(t))):
            path = stem.with_suffix(suffix)
            _atomic_write(path, text)
            paths.append(path)
    if tables:
        t0 = tables[0]
        combined = out_dir / f"{t0.dataset}_{t0.preset}.md"
        _atomic_write(combined, "\n".join([*(table_markdown(t) for t in tables), *([details] if details else [])]))
        paths.append(combined)
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ----- running -----------------------------------------------------------------------------------
@dataclass
class ReproduceResult:
    tables: list[ResultTable]
    paths: list[Path]
    trained: int
    reused: int
    failures: dict[Job, str] = field(default_factory=dict)  # jobs a Ray sweep could not finish, with why


def reproduce(dataset: str, methods: str | list[str], preset: str = "quick", runs: int = 1, seed: int = 0,
              device: str = "auto", data_dir: str | None = None, out: str | None = None,
              tables_dir: str | Path | None = DEFAULT_TABLES_DIR, classes: list[int | str] | None = None,
              train: bool = True, report: Report | None = None, stage: Callable[[str], None] | None = None,
              progress: Any = None, backend: Backend | None = None) -> ReproduceResult:
    """Run (or reuse) every class x method x seed, then write one table per metric.

    Tables are rewritten whenever a class's last job ends, so an interrupted call still leaves
    tables of what is done. ``train=False`` only tabulates the runs already present. ``backend``
    runs the jobs (default: :class:`core.sweep.LocalBackend`, here, one after another, with
    ``stage`` and ``progress``); ``report`` hears of every job as it ends.
    """
    if runs < 1:
        raise ValueError(f"--runs must be at least 1, got {runs}")
    method_list = parse_methods(methods)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    data = dataset_classes(dataset, data_dir)  # the classes; whoever runs a job loads the images
    wanted = list(range(data.num_classes)) if not classes else [parse_class(data, c) for c in classes]
    root = results_root(out)
    seeds = {m: seeds_for(m, runs, seed) for m in method_list}
    failures: dict[Job, str] = {}
    tables: list[ResultTable] = []
    paths: list[Path] = []

    def tabulate() -> None:
        nonlocal tables, paths
        collected = collect_runs(root, data.name, method_list, preset, seeds)
        tables = [build_table(collected, data.name, metric, list(data.class_names), preset, failures)
                  for metric in METRICS]
        if tables_dir is not None:
            paths = write_tables(tables, tables_dir, detail_markdown(collected, data.name, list(data.class_names),
                                                                    preset))

    trained = reused = 0
    if train:
        jobs = plan_jobs(data, method_list, wanted, seeds, preset)
        left = Counter(job.normal_class for job in jobs)  # jobs still to end, per class

        def on_outcome(outcome: JobOutcome, tally: Tally) -> None:
            if outcome.error is not None:
                failures[outcome.job] = outcome.error
            if report is not None:
                report(outcome, tally)
            left[outcome.job.normal_class] -= 1
            if not left[outcome.job.normal_class]:
                tabulate()

        if backend is None:
            backend = LocalBackend(lambda job: run_job(job, device, data_dir, out, stage, progress))
        done = sweep(jobs, root, backend, resume=True, report=on_outcome)
        trained, reused = done.trained, done.reused
    tabulate()
    return ReproduceResult(tables, paths, trained, reused, failures)
