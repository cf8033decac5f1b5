"""Sweeps: the (method, dataset, class, seed) jobs of ``reproduce`` or a multi-run ``run``, which of
them are already done, and who runs the rest.

One loop decides what runs (:func:`sweep`): a job whose run folder is complete is reused when the
caller resumes (``reproduce``; ``run`` always trains afresh, as it always has), and the rest go to a
backend:

- :class:`LocalBackend`: one job after another in this process, nothing to install; the first
  failure stops the sweep, as it always has;
- :class:`core.ray_backend.RayBackend`: every job a Ray task, on this machine's GPUs or a cluster's;
  a failed job is reported and the others go on.

Either way a finished job ends as the same run folder under the results root, written atomically
(:mod:`core.runs`), so a sweep stopped anywhere resumes where it stopped.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.baselines import detector_class
from core.data import ClassNames, load_dataset
from core.runs import RunInfo, is_complete, read_run, run_dir, run_folder_name


class BackendError(RuntimeError):
    """A backend that cannot start here (Ray missing, a cluster out of reach), with what to do."""


@dataclass(frozen=True)
class Job:
    """One run to make: a method on one normal class of a dataset with one seed."""

    method: str
    dataset: str  # ClassNames.name: a registry name or folder:/absolute/path, loadable anywhere it exists
    normal_class: int
    preset: str
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()  # GeomConfig / baseline config fields, e.g. (("steps", 100),)

    def folder(self, root: Path) -> Path:
        """Where its run folder goes under the results root ``root``."""
        return run_dir(root, self.method, self.dataset, self.normal_class,
                       run_folder_name(self.preset, self.seed, self.overrides))

    @property
    def label(self) -> str:
        return f"{self.method} class {self.normal_class} seed {self.seed}"


def plan_jobs(data: ClassNames, methods: Iterable[str], classes: Iterable[int], seeds: dict[str, list[int]],
              preset: str, overrides: tuple[tuple[str, Any], ...] = ()) -> list[Job]:
    """Every (class, method, seed) job in the order a local sweep runs them: class by class, so each
    class's row of the tables fills in before the next one starts."""
    method_list = list(methods)
    return [Job(method, data.name, cls, preset, seed, overrides)
            for cls in classes for method in method_list for seed in seeds[method]]


@dataclass(frozen=True)
class JobOutcome:
    """A job as it ended: its run, or the error that stopped it."""

    job: Job
    run: RunInfo | None  # None when it failed
    error: str | None = None  # one line: the exception's type and message
    trained: bool = True  # False: a complete run folder was reused
    seconds: float = 0.0  # wall seconds where it ran, loading included (0 when reused)
    node: str = ""  # the host that ran it


@dataclass
class Tally:
    """Where a sweep stands as each job ends: counts, and an estimate of the time left from the
    rate at which jobs have finished so far (so it accounts for however many run at once)."""

    total: int
    finished: int = 0  # reused, trained or failed
    reused: int = 0
    ran: int = 0  # trained or failed
    started: float = field(default_factory=time.monotonic)  # reset when the first job is handed to a backend

    @property
    def left(self) -> int:
        return self.total - self.finished

    def eta_s(self) -> float | None:
        """Seconds until the last job ends, once one has run; None before that."""
        if not self.ran:
            return None
        return (time.monotonic() - self.started) / self.ran * self.left


Report = Callable[[JobOutcome, Tally], None]


class Backend(Protocol):
    def run(self, jobs: list[Job], root: Path, report: Callable[[JobOutcome], None]) -> None:
        """Run every job, leave its run folder under ``root``, and report each one as it ends."""


Execute = Callable[[Job], RunInfo]


class LocalBackend:
    """One job after another in this process, with the caller's way of running one (its progress
    bars); an exception stops the sweep (what finished is saved)."""

    def __init__(self, execute: Execute) -> None:
        self.execute = execute

    def run(self, jobs: list[Job], root: Path, report: Callable[[JobOutcome], None]) -> None:
        del root  # execute writes into the results root it was made for
        node = socket.gethostname()
        for job in jobs:
            start = time.perf_counter()
            run = self.execute(job)
            report(JobOutcome(job, run, seconds=time.perf_counter() - start, node=node))


def run_job(job: Job, device: str = "auto", data_dir: str | None = None, out: str | None = None,
            stage: Callable[[str], None] | None = None, progress: Any = None) -> RunInfo:
    """One job in this process, through its method's one-vs-all protocol: a local sweep's and a Ray
    worker's runs are made by the same code."""
    data = load_dataset(job.dataset, data_dir)
    return detector_class(job.method).run_one_vs_all(data, job.normal_class, job.preset, job.seed, device, data_dir,
                                                     out, stage=stage, progress=progress, overrides=job.overrides)


@dataclass
class SweepResult:
    runs: dict[Job, RunInfo]
    failures: dict[Job, str]
    trained: int
    reused: int


def sweep(jobs: list[Job], root: Path, backend: Backend, resume: bool = True, report: Report | None = None
          ) -> SweepResult:
    """Reuse the complete runs (when ``resume``), hand the rest to ``backend``, and report every job."""
    result = SweepResult({}, {}, 0, 0)
    tally = Tally(len(jobs))

    def record(outcome: JobOutcome) -> None:
        tally.finished += 1
        if outcome.trained:
            tally.ran += 1
        else:
            tally.reused += 1
        if outcome.run is not None:
            result.runs[outcome.job] = outcome.run
        if outcome.error is not None:
            result.failures[outcome.job] = outcome.error
        if report is not None:
            report(outcome, tally)

    todo = []
    for job in jobs:
        folder = job.folder(root)
        if resume and is_complete(folder):
            record(JobOutcome(job, read_run(folder), trained=False))
        else:
            todo.append(job)
    if todo:
        tally.started = time.monotonic()
        backend.run(todo, root, record)
    result.trained, result.reused = tally.ran - len(result.failures), tally.reused
    return result
