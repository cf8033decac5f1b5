"""core.sweep: the one plan of jobs both backends run, what is skipped, and the tally."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.data import dataset_classes
from core.runs import RunInfo, write_run
from core.sweep import Job, JobOutcome, LocalBackend, Tally, plan_jobs, sweep


def test_jobs_come_class_by_class_and_name_their_folder() -> None:
    data = dataset_classes("fashion-mnist")  # from the registry: no files needed
    jobs = plan_jobs(data, ["geom", "raw-ocsvm-fair"], [6, 2], {"geom": [0, 1], "raw-ocsvm-fair": [0]}, "quick")
    assert [(j.normal_class, j.method, j.seed) for j in jobs] == [
        (6, "geom", 0), (6, "geom", 1), (6, "raw-ocsvm-fair", 0),
        (2, "geom", 0), (2, "geom", 1), (2, "raw-ocsvm-fair", 0)]
    assert jobs[1].folder(Path("r")) == Path("r/geom/fashion_mnist/6/quick-seed1")
    steps = plan_jobs(data, ["geom"], [0], {"geom": [3]}, "tiny", (("steps", 5),))[0]
    assert steps.folder(Path("r")).name == "tiny-steps5-seed3" and steps.label == "geom class 0 seed 3"


def _fake(root: Path, job: Job) -> RunInfo:
    meta = {"method": job.method, "dataset": job.dataset, "normal_class": job.normal_class, "class_label": "0",
            "preset": job.preset, "seed": job.seed}
    return write_run(job.folder(root), meta, {}, {"score": np.zeros(2)})


class FailingBackend:
    """Reports every job as failed, as a Ray sweep does for a job whose worker lacks the data."""

    def run(self, jobs, root, report) -> None:
        for job in jobs:
            report(JobOutcome(job, None, "DataError: no data", node="elsewhere"))


def test_complete_runs_are_reused_only_when_resuming(tmp_path: Path) -> None:
    jobs = [Job("geom", "digits", c, "tiny", 0) for c in (0, 1)]
    _fake(tmp_path, jobs[0])
    trained: list[Job] = []
    seen: list[tuple[bool, int, int]] = []
    local = LocalBackend(lambda job: trained.append(job) or _fake(tmp_path, job))
    result = sweep(jobs, tmp_path, local, report=lambda o, t: seen.append((o.trained, t.finished, t.left)))
    assert trained == [jobs[1]] and (result.trained, result.reused) == (1, 1) and set(result.runs) == set(jobs)
    assert seen == [(False, 1, 1), (True, 2, 0)]
    again = sweep(jobs, tmp_path, local, resume=False)  # `run` always trains afresh
    assert trained == [jobs[1], *jobs] and (again.trained, again.reused) == (2, 0)
    failed = sweep(jobs, tmp_path, FailingBackend(), resume=False)
    assert (failed.trained, failed.runs) == (0, {}) and set(failed.failures) == set(jobs)


def test_the_estimate_follows_the_rate_so_far() -> None:
    tally = Tally(total=10, finished=4, reused=2, ran=2, started=time.monotonic() - 60)
    assert Tally(10).eta_s() is None  # nothing has run yet
    assert 175 < tally.eta_s() < 185  # 30 s per job run, 6 left
