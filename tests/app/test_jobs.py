"""Training jobs (explorer/jobs.py): one at a time in a queue, shared by key, cancelled cooperatively."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.data import load_dataset
from core.experiment import RunRequest, run_path
from explorer.jobs import CANCELLED, DONE, FAILED, JOBS, QUEUED, RUNNING, Job, JobQueue, submit_training


def wait(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def blocking_work(release: threading.Event, started: list[str]):
    """Work that reports progress until ``release`` is set, then returns a made-up run folder."""
    def work(job: Job) -> Path:
        started.append(job.key)
        while not release.is_set():
            job.report(0.5, "working")
            time.sleep(0.01)
        return Path(job.key)
    return work


def test_one_at_a_time_in_order_and_shared_by_key() -> None:
    queue, started, release = JobQueue(), [], threading.Event()
    a = queue.submit("a", "A", blocking_work(release, started), "alice")
    b = queue.submit("b", "B", blocking_work(release, started), "alice")
    wait(lambda: a.state == RUNNING)
    assert b.state == QUEUED and queue.ahead_of(b) == 1 and queue.ahead_of(a) == 0
    assert queue.submit("b", "B", blocking_work(release, started), "bob") is b  # a second session shares the job
    assert b.requesters == {"alice", "bob"}
    assert queue.jobs() == [a, b]
    time.sleep(0.1)
    assert started == ["a"]  # never two at once
    release.set()
    wait(lambda: a.state == DONE and b.state == DONE)
    assert started == ["a", "b"] and b.result == Path("b") and b.fraction == 1.0


def test_cancel_waits_for_every_requester_and_failures_are_kept() -> None:
    queue, started, release = JobQueue(), [], threading.Event()
    running = queue.submit("r", "R", blocking_work(release, started), "alice")
    queue.submit("r", "R", blocking_work(release, started), "bob")
    queued = queue.submit("q", "Q", blocking_work(release, started), "alice")
    wait(lambda: running.state == RUNNING)
    queue.cancel("q", "alice")
    assert queued.state == CANCELLED and "q" not in started
    queue.cancel("r", "alice")
    time.sleep(0.1)
    assert running.state == RUNNING  # bob still wants it
    queue.cancel("r", "bob")
    wait(lambda: running.state == CANCELLED)

    def broken(job: Job) -> Path:
        raise RuntimeError("out of memory")
    failed = queue.submit("f", "F", broken, "alice")
    wait(lambda: failed.state == FAILED)
    assert failed.error == "out of memory"
    after = queue.submit("f", "F", blocking_work(release, started), "alice")  # a finished key can run again
    release.set()
    wait(lambda: after.state == DONE)


@pytest.mark.slow
def test_a_cancelled_training_leaves_no_run_folder(tmp_path: Path) -> None:
    data = load_dataset("digits")
    request = RunRequest("digits", 2, "tiny", 0, "cpu", None, str(tmp_path))
    job = submit_training(request, data, 2, "alice")
    assert job.key == str(run_path(request, data, 2).resolve())
    wait(lambda: job.text.startswith("step"), timeout_s=120)
    JOBS.cancel(job.key, "alice")
    wait(lambda: not job.active, timeout_s=60)
    assert job.state == CANCELLED
    assert not any(tmp_path.rglob("run.json")) and not Path(job.key).exists()
