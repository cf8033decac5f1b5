"""What the verbs that run many jobs share (``reproduce``, ``run`` over classes or seeds): the
options choosing who runs them (here, or Ray tasks on many GPUs or a cluster) and the line every
job prints to stderr as it ends."""

from __future__ import annotations

import argparse
import sys

from core.baselines import paper_method
from core.cli.args import fraction, non_negative_int, positive_int
from core.paper_tables import paper_value
from core.ray_backend import INSTALL_HINT, RayBackend, RayOptions, import_ray
from core.reproduce import score_key
from core.sweep import Backend, Job, JobOutcome, Tally

BACKENDS = ("local", "ray")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("many GPUs or a cluster", f"every job a Ray task (needs: {INSTALL_HINT})")
    g.add_argument("--backend", choices=BACKENDS, default="local",
                   help="local: one job after another in this process (default); ray: every job a Ray task")
    g.add_argument("--address", help="with --backend ray: 'auto' or HOST:PORT joins a running cluster "
                                     "(default: start Ray on this machine, on all its GPUs and CPUs)")
    g.add_argument("--gpus-per-job", type=fraction, default=RayOptions.gpus_per_job,
                   help="share of a GPU for each job that trains a network, where the cluster has GPUs; "
                        "0.25 runs four small jobs per GPU (default: %(default)s)")
    g.add_argument("--cpus-per-job", type=positive_int, default=RayOptions.cpus_per_job,
                   help="CPUs Ray reserves for each job, and its torch threads (default: %(default)s)")
    g.add_argument("--max-retries", type=non_negative_int, default=RayOptions.max_retries,
                   help="times a job is retried when its worker dies (default: %(default)s); "
                        "a job that raises an error is reported, not retried")


def requested_backend(args: argparse.Namespace) -> Backend | None:
    """The Ray backend the options ask for, checked before anything is planned or trained; None for
    ``local``, where each verb runs its jobs its own way (its progress bars)."""
    if args.backend == "local":
        if args.address is not None:
            raise ValueError("--address joins a Ray cluster: add --backend ray")
        return None
    import_ray()  # not installed: say how, now
    return RayBackend(RayOptions(args.address, args.gpus_per_job, args.cpus_per_job, args.max_retries), args.device,
                      args.data_dir)


def print_progress(outcome: JobOutcome, tally: Tally) -> None:
    print(progress_line(outcome, tally), file=sys.stderr, flush=True)


def progress_line(outcome: JobOutcome, tally: Tally) -> str:
    """``[3/20] geom digits class 3 (3) seed 1: AUROC 97.0 in 21 s on gpu-node-2; 17 left, about 6 min``."""
    job, run = outcome.job, outcome.run
    name = f" ({run.meta['class_name']})" if run is not None else ""
    head = (f"[{tally.finished}/{tally.total}] {job.method} {job.dataset} class {job.normal_class}{name} "
            f"seed {job.seed}:")
    where = f" on {outcome.node}" if outcome.node else ""
    if run is None:
        body = f"FAILED{where}: {outcome.error}"
    else:
        body = auroc_text(run.meta["dataset"], job.normal_class, job.method, run.metrics.get(score_key(run)))
        body = f"{body} in {outcome.seconds:.0f} s{where}" if outcome.trained else f"reused, {body}"
    eta = tally.eta_s()
    tail = "" if eta is None or not tally.left else f"; {tally.left} left, about {duration(eta)}"
    return f"{head} {body}{tail}"


def auroc_text(dataset: str, cls: int, method: str, metrics: dict | None) -> str:
    if not metrics:
        return "no AUROC (no anomalies in the test data)"
    paper = paper_value(dataset, cls, "auroc", paper_method(method))
    return f"AUROC {100 * metrics['auroc']:.1f}" + ("" if paper is None else f" (paper {paper.mean:.1f})")


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report_failures(failures: dict[Job, str], hint: str = "") -> int:
    """Name every failed job on stderr; the exit status: 1 when any failed, else 0."""
    for job, error in failures.items():
        print(f"missing: {job.label}: {error}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} of the jobs failed{hint}", file=sys.stderr)
    return 1 if failures else 0
