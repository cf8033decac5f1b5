"""The local backend against Ray on the same small sweep: wall time, jobs per minute and speed-up,
printed as one JSON line.

Both backends run the same jobs (default: GEOM ``tiny`` on digits classes 0-3, seed 0), each into
its own temporary results folder. ``local`` runs them one after another in this process with
torch's default threads, as ``--backend local`` does; ``ray`` starts Ray here with ``--workers``
CPUs and runs ``--cpus-per-job``-thread jobs side by side, as ``--backend ray`` does. Ray's start-up
counts in its wall time and is also given alone. It measures throughput, so run it on an idle
machine (the JSON line gives the load average at the start).

    python -m bench.sweep                      # 4 GEOM tiny jobs; on 2 cores: 2 one-thread jobs at once
    GEOM_DATA_DIR=../shared/data python -m bench.sweep --dataset fashion_mnist --preset quick
    python -m bench.sweep --smoke              # seconds, Deep SVDD: checks the code path (tests do)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from core.data import dataset_classes
from core.ray_backend import RayBackend, RayOptions, import_ray
from core.sweep import Backend, Job, LocalBackend, plan_jobs, run_job, sweep


def timed(jobs: list[Job], backend_for: Callable[[str], Backend], startup_s: float = 0.0) -> dict[str, Any]:
    """Run ``jobs`` on ``backend_for(out)`` into a fresh folder: wall seconds (plus ``startup_s``, what
    starting the backend took), jobs per minute, and each job's AUROC."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as out:
        start = time.perf_counter()
        result = sweep(jobs, Path(out), backend_for(out), resume=False)
        wall = time.perf_counter() - start + startup_s
    if result.failures:
        raise SystemExit(f"jobs failed: {result.failures}")
    return {"wall_s": round(wall, 1), "jobs_per_min": round(60 * len(jobs) / wall, 2),
            "auroc": [round(next(iter(result.runs[job].metrics.values()))["auroc"], 4) for job in jobs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="Deep SVDD tiny on 2 digits classes: the code path in seconds")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--method", default="geom")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--classes", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="CPUs Ray gets (default: all)")
    ap.add_argument("--cpus-per-job", type=int, default=RayOptions.cpus_per_job)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--json", default=None, help="also write the summary to this file")
    args = ap.parse_args()
    ray = import_ray()  # before the local half: without Ray there is nothing to compare
    method, classes = ("deep-svdd", [0, 1]) if args.smoke else (args.method, args.classes)
    preset = "tiny" if args.smoke else args.preset
    data = dataset_classes(args.dataset, args.data_dir)
    jobs = plan_jobs(data, [method], classes, {method: [args.seed]}, preset)
    summary: dict[str, Any] = {
        "dataset": data.name, "method": method, "preset": preset, "jobs": len(jobs), "workers": args.workers,
        "cpus_per_job": args.cpus_per_job, "cpu": platform.processor() or platform.machine(),
        "load_avg_at_start": round(os.getloadavg()[0], 2), "smoke": args.smoke,
    }

    def local(out: str) -> Backend:
        return LocalBackend(lambda job: run_job(job, "cpu", args.data_dir, out))

    summary["local"] = {**timed(jobs, local), "threads": torch.get_num_threads()}
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    try:
        summary["ray"] = timed(jobs, lambda out: RayBackend(RayOptions(cpus_per_job=args.cpus_per_job), "cpu",
                                                            args.data_dir), startup)
    finally:
        ray.shutdown()
    summary["ray"]["startup_s"] = round(startup, 1)
    summary["speedup"] = round(summary["local"]["wall_s"] / summary["ray"]["wall_s"], 2)
    line = json.dumps(summary)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")


if __name__ == "__main__":
    main()
