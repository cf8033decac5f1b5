"""Training jobs owned by the server process, not by a page script.

Streamlit stops a page script whenever its user clicks anything, so training inside the script is
lost on the first click. A job here runs on one worker thread of the server process instead and
outlives page changes, widget clicks and reruns; pages only read its progress. Jobs are keyed by
the run folder they will write, so two sessions asking for the same run share one job, and they run
one at a time (a second training would only halve the speed of both on a small CPU), later ones
waiting in a queue every session can see.

Cancelling is cooperative: ``Job.report`` (called from the training's progress callbacks) raises
JobCancelled, which unwinds the training before anything is written. A server restart loses the
jobs; core.runs.write_run's atomic renames mean it never leaves a half-written run.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.data import ImageDataset
from core.experiment import RunRequest, run_one_class, run_path
from core.train import TrainProgress
from core.transforms import spec_tag

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
KEEP_FINISHED = 32  # finished jobs remembered, so the sessions that asked can still open or read them
TRAIN_SHARE = 0.8  # of a training job's progress bar; scoring the test set takes the rest


class JobCancelled(Exception):
    """Raised inside a job's work by its progress report once everybody who asked has cancelled."""


@dataclass(eq=False)
class Job:
    """One unit of work with a progress bar; ``work`` returns the run folder it wrote."""

    key: str
    title: str
    work: Callable[[Job], Path]
    state: str = QUEUED
    fraction: float = 0.0
    text: str = "waiting"
    error: str = ""
    result: Path | None = None
    requesters: set[str] = field(default_factory=set)
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def report(self, fraction: float, text: str) -> None:
        """Progress from inside ``work``; raises JobCancelled there when the job was cancelled."""
        if self.cancel_event.is_set():
            raise JobCancelled
        self.fraction, self.text = min(1.0, max(0.0, fraction)), text


class JobQueue:
    """Jobs by key, run one at a time, in order, on a daemon thread started on the first submit."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._worker: threading.Thread | None = None

    def submit(self, key: str, title: str, work: Callable[[Job], Path], requester: str) -> Job:
        """The job for ``key``: the one queued or running (now also on ``requester``'s behalf), else a new one."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active:
                job = Job(key, title, work)
                self._jobs.pop(key, None)
                self._jobs[key] = job
                self._waiting.append(job)
                self._forget_old()
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._serve, name="geom-jobs", daemon=True)
                    self._worker.start()
                self._lock.notify_all()
            job.requesters.add(requester)
            return job

    def cancel(self, key: str, requester: str) -> None:
        """``requester`` no longer wants the job; it stops once nobody who asked for it does."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active:
                return
            job.requesters.discard(requester)
            if job.requesters:
                return
            job.cancel_event.set()
            if job.state == QUEUED:
                self._waiting.remove(job)
                job.state, job.text = CANCELLED, "cancelled before it started"

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def jobs(self) -> list[Job]:
        """Every remembered job: the running one, the queue in order, then finished ones, newest first."""
        with self._lock:
            running = [j for j in self._jobs.values() if j.state == RUNNING]
            finished = [j for j in reversed(self._jobs.values()) if not j.active]
            return [*running, *self._waiting, *finished]

    def ahead_of(self, job: Job) -> int:
        """How many jobs run before ``job`` starts (0 once it runs)."""
        with self._lock:
            if job.state != QUEUED:
                return 0
            return list(self._waiting).index(job) + any(j.state == RUNNING for j in self._jobs.values())

    def _forget_old(self) -> None:
        finished = [key for key, job in self._jobs.items() if not job.active]
        for key in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[key]

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._waiting.popleft()
                job.state, job.text = RUNNING, "starting"
            try:
                result = job.work(job)
            except JobCancelled:
                job.state, job.text = CANCELLED, "cancelled: nothing was saved"
            except Exception as exc:  # noqa: BLE001 - any failure belongs to the job; the worker serves the next
                job.state, job.error = FAILED, str(exc) or type(exc).__name__
            else:
                job.result, job.fraction, job.text, job.state = result, 1.0, "done", DONE


JOBS = JobQueue()  # one per server process: every session sees the same jobs


def submit_training(request: RunRequest, data: ImageDataset, normal_class: int, requester: str) -> Job:
    """Queue ``run_one_class(request)`` as a job keyed by the run folder it will write."""
    key = str(run_path(request, data, normal_class).expanduser().resolve())
    title = f"{data.name} · {data.class_label(normal_class)} · {request.preset} · seed {request.seed}"
    if request.transforms is not None:
        title += f" · transforms {spec_tag(request.transforms)}"

    def work(job: Job) -> Path:
        def on_train(p: TrainProgress) -> None:
            job.report(TRAIN_SHARE * p.fraction,
                       f"step {p.step}/{p.total_steps} · loss {p.loss:.3f} · acc {p.accuracy:.2f}")

        def on_score(done: int, total: int) -> None:
            job.report(TRAIN_SHARE + (1 - TRAIN_SHARE) * done / total, f"scoring {done}/{total} images")

        def on_stage(message: str) -> None:
            job.report(job.fraction, message)

        return run_one_class(request, progress=on_train, score_progress=on_score, stage=on_stage).path

    return JOBS.submit(key, title, work, requester)
