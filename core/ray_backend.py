"""Run a sweep's jobs as Ray tasks: every GPU of this machine, or a whole cluster's.

Everything Ray-specific lives here and Ray is imported only when a sweep asks for it, so the
default install and the local backend never need it (``pip install -r requirements-ray.txt``).

- **One job, one task.** A job whose method trains a network (``uses_gpu``) asks for
  ``gpus_per_job`` of a GPU where the cluster has GPUs (a fraction lets small presets share one),
  else for CPUs only; every task asks for ``cpus_per_job`` CPUs and runs that many torch threads.
- **No shared disk needed.** A task runs the job into a task-local temporary results folder and
  returns the folder's files as bytes; the driver writes them atomically into its own results root
  (:func:`core.runs.write_run_files`), so workers and driver need not share a file system.
- **Faults.** A task whose worker dies is retried ``max_retries`` times by Ray; an error (the
  worker lacks the dataset, a bad class) is not retried. Either way the job is reported with its
  error and the other jobs go on. Ctrl-C cancels the outstanding tasks and ends the Ray session;
  only whole run folders ever reach the results root.
- **Data.** A worker loads the dataset itself: from the driver's ``--data-dir`` when one was
  given (the path must hold the data on every node), else from its own ``$GEOM_DATA_DIR`` (else
  ``~/.cache/geom/data``). A worker without the data fails that job with the loader's message.
- **Output.** Workers print nothing to the driver's terminal (their own output stays in Ray's logs,
  ``/tmp/ray/session_latest/logs`` on each node); the driver prints one line per finished job.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.baselines import detector_class
from core.data.dataset import short_error
from core.runs import run_files, write_run_files
from core.sweep import BackendError, Job, JobOutcome, run_job

INSTALL_HINT = "pip install -r requirements-ray.txt"
CONNECT_TIMEOUT_S = 5.0  # Ray itself keeps retrying an unreachable address for minutes
DEVICES = ("auto", "cpu", "cuda")  # Ray assigns each task its GPU, so no cuda:N
ERROR_CHARS = 2000  # a failed job's error as reported: one line, cut only past this


def import_ray() -> Any:
    """The ray module, or a BackendError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise BackendError(f"--backend ray needs Ray, which is not installed here: {INSTALL_HINT}") from exc
    return ray


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start Ray on this machine; "auto" or HOST:PORT: join a running cluster
    gpus_per_job: float = 1.0  # share of a GPU for a job that trains a network, where there are GPUs
    cpus_per_job: int = 1  # CPUs Ray reserves for every job, and its torch threads
    max_retries: int = 2  # retries of a task whose worker died


@dataclass(frozen=True)
class JobPayload:
    """What a task sends back: the run folder's files, and where and how long it ran."""

    files: dict[str, bytes]
    seconds: float
    node: str


def run_job_task(job: Job, device: str, data_dir: str | None, threads: int) -> JobPayload:
    """A Ray task's body, on a worker: run ``job`` into a task-local results folder and return it."""
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="geom-job-") as out:
        run = run_job(job, device, data_dir, out)
        files = run_files(run.path)
    return JobPayload(files, time.perf_counter() - start, socket.gethostname())


def check_reachable(address: str | None) -> None:
    """Fail within seconds, naming the address, when a cluster to join does not answer."""
    # Ray's own resolver of "auto" and $RAY_ADDRESS: private, but pinned with Ray in requirements-ray.txt
    from ray._private.services import canonicalize_bootstrap_address

    try:
        target = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise BackendError(f"cannot join a Ray cluster at {address}: {exc}") from exc
    if target is None:
        return  # nothing to join: Ray starts on this machine
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot reach a Ray cluster at {address} ({target}): {exc}. Start one there with "
                           "`ray start --head`, or leave out --address to run on this machine") from exc


def task_error(exc: BaseException) -> str:
    """One line for a failed task: its own exception (a RayTaskError carries it as ``cause``), or
    Ray's (the worker died, the node was lost). Long enough for a loader's whole message, which
    ends with what to do."""
    return short_error(getattr(exc, "cause", None) or exc, limit=ERROR_CHARS)


class RayBackend:
    """Submit every job as a Ray task, and write each finished run into the driver's results root."""

    def __init__(self, options: RayOptions, device: str = "auto", data_dir: str | None = None) -> None:
        if device not in DEVICES:
            raise BackendError(f"--device {device} with --backend ray: use {', '.join(DEVICES)} "
                               "(Ray gives every job its own GPU)")
        self.options, self.device, self.data_dir = options, device, data_dir

    def run(self, jobs: list[Job], root: Path, report: Callable[[JobOutcome], None]) -> None:
        ray = import_ray()
        started_here = self._connect(ray)
        pending: dict[Any, Job] = {}
        try:
            has_gpus = ray.cluster_resources().get("GPU", 0) > 0
            if self.device == "cuda" and not has_gpus:
                raise BackendError("--device cuda, but the Ray cluster has no GPUs: use --device auto")
            task = ray.remote(run_job_task)
            for job in jobs:
                on_gpu = has_gpus and self.device != "cpu" and detector_class(job.method).uses_gpu
                ref = task.options(
                    num_cpus=self.options.cpus_per_job, num_gpus=self.options.gpus_per_job if on_gpu else 0,
                    max_retries=self.options.max_retries, name=f"geom {job.label}",
                ).remote(job, self.device if on_gpu else "cpu", self.data_dir, self.options.cpus_per_job)
                pending[ref] = job
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                report(self._finish(ray, ref, pending.pop(ref), root))
        finally:  # also on Ctrl-C: nothing keeps training for a sweep that is gone
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join or start Ray; True when this call started the session, so the sweep ends it. A
        session the caller opened (``ray.init`` before the sweep) is used and left open."""
        if ray.is_initialized():
            return False
        check_reachable(self.options.address)
        ray.init(address=self.options.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        return True

    @staticmethod
    def _finish(ray: Any, ref: Any, job: Job, root: Path) -> JobOutcome:
        """The job's outcome: its run written under ``root``, or why there is none."""
        try:
            payload = ray.get(ref)
            run = write_run_files(job.folder(root), payload.files)
        except Exception as exc:  # noqa: BLE001 - any task error or lost worker is that job's failure; the sweep goes on
            return JobOutcome(job, None, task_error(exc))
        return JobOutcome(job, run, seconds=payload.seconds, node=payload.node)

