"""``python -m core run``: train and evaluate GEOM one-vs-all, one run folder per class and seed.

Several classes or seeds are a sweep (:mod:`core.sweep`): run here one after another, or with
``--backend ray`` as Ray tasks on many GPUs or a cluster. Unlike ``reproduce``, ``run`` always
trains afresh, replacing a run folder of the same name.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.baselines import GEOM
from core.cli.args import positive_int
from core.cli.backend import add_backend_args, print_progress, report_failures, requested_backend
from core.cli.commands import command
from core.cli.common import add_common, add_runs_and_seed, chosen_classes, print_table, summary_line, tidy_results
from core.config import PRESETS, preset_config, preset_help
from core.data import DATASETS, ImageDataset, dataset_classes
from core.experiment import RunRequest, has_anomalies, result_line, run_one_class
from core.metrics import NO_ANOMALIES
from core.progress import ProgressBar
from core.runs import RunInfo, results_root
from core.selection import AUTO, parse_transforms
from core.sweep import Job, JobOutcome, LocalBackend, Tally, plan_jobs, sweep
from core.tensorboard import summary_writer, write_tensorboard
from core.transforms import TRANSFORM_SET_NAMES


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}, or folder:PATH")
    p.add_argument("--normal-class", required=True, help="class index or name, or 'all' for every class")
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help=preset_help())
    add_runs_and_seed(p)
    p.add_argument("--steps", type=positive_int, help="override the preset's number of training steps")
    p.add_argument("--transforms", help=f"the transforms to learn: a set name ({', '.join(TRANSFORM_SET_NAMES)}), a "
                                        "comma-separated list of the preset's transforms by number (as the explorer "
                                        "shows them; ranges like 0-35) or name ('id, rot90, flip rot180'), or "
                                        f"'{AUTO}': drop those a probe cannot tell apart on held-out normal images "
                                        "(core/selection.py; one more training). Default: the preset's 72")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log the training history (loss, accuracy, lr) for TensorBoard into each run folder "
                        "(needs: pip install tensorboard)")
    add_common(p)
    add_backend_args(p)


def normal_only_notice(data: ImageDataset, cls: int) -> str:
    """Said before training, so a user with normal-only data knows the run will save but not be scored."""
    what = f"{data.name} has one class ({data.class_names[cls]})" if data.num_classes == 1 else \
        f"{data.name} has no test images outside class {data.class_label(cls)}"
    return f"note: {what}: it trains as the normal class and the run is saved, but {NO_ANOMALIES}"


@command("run", "train and evaluate one-vs-all detectors, one run folder each")(add_run_args)
def run_command(args: argparse.Namespace) -> int:
    writer = summary_writer() if args.tensorboard else None  # fail fast, before any training
    backend = requested_backend(args)
    data = dataset_classes(args.dataset, args.data_dir)
    overrides = (("steps", args.steps),) if args.steps is not None else ()
    preset = preset_config(args.preset, data.image_size, data.channels)
    transforms = preset.transforms if args.transforms is None else parse_transforms(args.transforms, preset)
    if transforms != preset.transforms:  # checked before any training; the preset's own set keeps the plain folder
        overrides += (("transforms", transforms),)
    classes = chosen_classes(data, args.normal_class)
    if isinstance(data, ImageDataset):  # a folder: set, read here for its classes; only such data can lack anomalies
        for cls in classes:
            if not has_anomalies(data, cls):
                print(normal_only_notice(data, cls), file=sys.stderr)
    tidy_results(args.out)
    jobs = plan_jobs(data, [GEOM], classes, {GEOM: list(range(args.seed, args.seed + args.runs))}, args.preset,
                     overrides)

    def train_here(job: Job) -> RunInfo:
        request = RunRequest(job.dataset, job.normal_class, job.preset, job.seed, args.device, args.data_dir,
                             args.out, job.overrides)
        bar = ProgressBar(f"{data.name} class {data.class_label(job.normal_class)} seed {job.seed}")
        return run_one_class(request, progress=bar.train, score_progress=bar.score,
                             stage=lambda msg: print(f"  {msg}", file=sys.stderr))

    def on_outcome(outcome: JobOutcome, tally: Tally) -> None:
        print_progress(outcome, tally)
        if writer is not None and outcome.run is not None:
            folder = write_tensorboard(outcome.run.path, outcome.run.history() or [], writer)
            print(f"  TensorBoard logs in {folder} (tensorboard --logdir {folder})", file=sys.stderr)

    result = sweep(jobs, results_root(args.out), backend or LocalBackend(train_here), resume=False, report=on_outcome)
    lines = [result_line(result.runs[job]) for job in jobs if job in result.runs]
    if lines:
        print_table(lines)
        print(json.dumps(lines[-1] if len(lines) == 1 else summary_line(lines)))
    return report_failures(result.failures)
