"""One out-of-distribution run: train the two-headed WRN, score the held-in evaluation images with GEOM,
MSP and ODIN, and write a run folder; then read such folders back.

Layout, as every run folder (core.runs), under ``<root>/ood/<in>/<out>/<preset>-seed<seed>/``:

    run.json      method "ood", the in- and OOD set, config, ODIN's chosen (T, eps), the split's sizes,
                  the OOD conversion and skipped files, class-head accuracy, seconds
    metrics.json  method (geom, msp, odin) -> AUROC, AUPR-in, AUPR-out, FPR at 95% TPR (fractions)
    scores.npz    per evaluated image: ``index`` (in its own set: the in-distribution test set, or the
                  OOD images), ``is_in``, ``labels`` (-1 for OOD), the three scores; ``tune_in_index`` and
                  ``tune_out_index`` (ODIN's held-out tuning images), ODIN's grid on them, the GEOM
                  galleries' images, and ``out_files`` for a folder OOD set
    model.pt      the two-headed network (core.ood.model.OodModel.save)
    history.json  the training's loss and class-head accuracy

The galleries' few images are stored in the run, so the explorer shows them where neither dataset is
(a run made on a GPU box, an OOD folder that stayed there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data import to_model_input
from core.detector import ScoreProgressFn
from core.metrics import detection_metrics, fpr_at_tpr
from core.ood.config import ood_preset_config
from core.ood.data import (
    OodImages,
    TuningSplit,
    load_in_distribution,
    load_out_of_distribution,
    tuning_split,
)
from core.ood.model import OodModel
from core.ood.odin import TuneProgressFn, max_softmax, odin, predicted_classes, tune_odin
from core.paper_tables import METRICS, paper_ood
from core.runs import (
    OOD_METHOD,
    DamagedRunError,
    RunInfo,
    cost_meta,
    read_run,
    results_root,
    run_folder_name,
    safe_dataset_dirname,
    write_run,
)
from core.train import ProgressFn, resolve_precision

# The three scores of a run, in the order tables list them: key -> title.
OOD_SCORES: dict[str, str] = {
    "geom": "GEOM (transform head)",
    "msp": "max softmax (MSP)",
    "odin": "ODIN",
}
OOD_METRICS: dict[str, str] = {"auroc": "AUROC", "aupr_in": "AUPR-in", "aupr_out": "AUPR-out", "fpr95": "FPR@95%TPR"}
GALLERY_SIZE = 12  # images kept of each end of the GEOM score
StageFn = Callable[[str], None]


@dataclass(frozen=True)
class OodRequest:
    """Everything that identifies one out-of-distribution run."""

    in_dataset: str
    out_dataset: str
    preset: str = "quick"
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    results: str | None = None  # the results root (default: $GEOM_RESULTS_DIR, else ./results)


def ood_run_path(request: OodRequest, in_name: str) -> Path:
    """``<root>/ood/<in>/<out>/<preset>-seed<seed>``, ``in_name`` being the loaded set's name."""
    return (results_root(request.results) / OOD_METHOD / safe_dataset_dirname(in_name)
            / safe_dataset_dirname(request.out_dataset.strip()) / run_folder_name(request.preset, request.seed))


def ood_metrics(is_in: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPR-in (in-distribution = positive), AUPR-out and FPR at 95% TPR, as fractions."""
    return {**detection_metrics(is_in, scores), "fpr95": fpr_at_tpr(is_in, scores)}


def run_ood(request: OodRequest, progress: ProgressFn | None = None, score_progress: ScoreProgressFn | None = None,
            tune_progress: TuneProgressFn | None = None, stage: StageFn | None = None) -> RunInfo:
    """Train on the in-distribution training images, tune ODIN on held-out test images, score the rest
    with all three methods and write the run folder."""
    say = stage or (lambda _msg: None)
    say("loading data")
    inside = load_in_distribution(request.in_dataset, request.data_dir)
    outside = load_out_of_distribution(request.out_dataset, inside, request.data_dir)
    for path, why in outside.skipped:
        say(f"skipped {path}: {why}")
    if outside.conversion:
        say(outside.conversion)
    config = ood_preset_config(request.preset, inside.image_size, inside.channels, seed=request.seed)
    split = tuning_split(inside.y_test, len(outside.x), config)
    train_idx = _train_subset(len(inside.x_train), config.max_train_images, config.seed)

    start, cpu_start = time.perf_counter(), time.process_time()
    say(f"training on {len(train_idx)} images of {inside.num_classes} classes x {len(config.transform_set())} "
        "transforms")
    model = OodModel.train(to_model_input(inside.x_train[train_idx]), inside.y_train[train_idx], config,
                           inside.class_names, request.device, progress)
    train_s = time.perf_counter() - start

    say(f"tuning ODIN on {len(split.tune_in)} + {len(split.tune_out)} held-out images")
    batch = config.class_batch_images
    tuning = tune_odin(model.net, to_model_input(inside.x_test[split.tune_in]),
                       to_model_input(outside.x[split.tune_out]), model.device, batch, progress=tune_progress)
    tune_s = time.perf_counter() - start - train_s

    x_eval = np.concatenate([inside.x_test[split.eval_in], outside.x[split.eval_out]])
    is_in = np.r_[np.ones(len(split.eval_in), bool), np.zeros(len(split.eval_out), bool)]
    say(f"scoring {len(split.eval_in)} in-distribution and {len(split.eval_out)} OOD images")
    inputs = to_model_input(x_eval)
    scores = {"geom": model.geom_score(inputs, score_progress),
              "msp": max_softmax(model.net, inputs, model.device, batch),
              "odin": odin(model.net, inputs, tuning.temperature, [tuning.epsilon], model.device, batch)[0]}
    # how good a classifier the baselines' scores come from: the class head on the untransformed images
    predicted = predicted_classes(model.net, inputs[:len(split.eval_in)], model.device, batch)
    class_accuracy = float((predicted == inside.y_test[split.eval_in]).mean())
    score_s = time.perf_counter() - start - train_s
    metrics = {key: ood_metrics(is_in, s) for key, s in scores.items()}

    meta = {
        "method": OOD_METHOD,
        "dataset": inside.name,
        "normal_class": None,  # every category of the in-distribution set is "normal" here
        "class_label": f"vs {request.out_dataset.strip()}",
        "class_names": list(inside.class_names),
        "out_dataset": request.out_dataset.strip(),
        "preset": request.preset,
        "seed": request.seed,
        "config": config.to_dict(),
        "score_key": "geom",
        "precision": str(resolve_precision(config.precision, model.device) or "fp32").replace("torch.", ""),
        "n_train": len(train_idx),
        "n_eval_in": len(split.eval_in), "n_eval_out": len(split.eval_out),
        "n_tune_in": len(split.tune_in), "n_tune_out": len(split.tune_out),
        "odin": tuning.record(),
        "class_accuracy": class_accuracy,
        "out_conversion": outside.conversion,
        "out_skipped": [list(s) for s in outside.skipped],
        "tune_seconds": round(tune_s, 2),  # part of score_seconds
        **cost_meta(model.device, train_s, score_s, time.process_time() - cpu_start),
    }
    arrays = _score_arrays(inside.y_test, x_eval, is_in, split, scores, outside)
    arrays.update(odin_fpr95=tuning.fpr95, odin_auroc=tuning.auroc, odin_temperatures=np.array(tuning.temperatures),
                  odin_epsilons=np.array(tuning.epsilons))
    path = ood_run_path(request, inside.name)
    say(f"saving to {path}")
    return write_run(path, meta, metrics, arrays, model.save, [p.as_record() for p in model.history])


def _train_subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``limit`` training images, seeded."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def _score_arrays(y_test: np.ndarray, x_eval: np.ndarray, is_in: np.ndarray, split: TuningSplit,
                  scores: dict[str, np.ndarray], outside: OodImages) -> dict[str, np.ndarray]:
    """scores.npz's per-image arrays, the tuning indices and the GEOM galleries (see the module docstring)."""
    order = np.argsort(-scores["geom"], kind="stable")
    most_in, most_out = order[:GALLERY_SIZE], order[::-1][:GALLERY_SIZE]
    arrays = {
        "index": np.r_[split.eval_in, split.eval_out],
        "is_in": is_in,
        "labels": np.r_[y_test[split.eval_in], np.full(len(split.eval_out), -1)],
        **scores,
        "tune_in_index": split.tune_in,
        "tune_out_index": split.tune_out,
        "most_in_positions": most_in, "most_in_images": x_eval[most_in],
        "most_out_positions": most_out, "most_out_images": x_eval[most_out],
    }
    if outside.files is not None:
        arrays["out_files"] = np.array(outside.files)
    return arrays


# ----- reading runs back ---------------------------------------------------------------------------------
def read_ood_run(path: str | Path) -> RunInfo:
    """An out-of-distribution run folder; ValueError saying why for a run of another method (a GEOM
    one-class run, a baseline), FileNotFoundError or DamagedRunError for what is not a run folder."""
    run = read_run(path)
    method = run.meta.get("method", "geom")
    if method != OOD_METHOD:
        raise ValueError(f"{run.path} is a {method} one-class run (one normal class against the rest), not an "
                         "out-of-distribution run: those are made by python -m core ood, and only they have a "
                         "two-headed network and GEOM, MSP and ODIN scores to show")
    return run


@dataclass(frozen=True, eq=False)
class OodScores:
    """An OOD run's scores.npz: position i of every per-image array is the same evaluated image."""

    index: np.ndarray
    is_in: np.ndarray
    labels: np.ndarray
    by_method: dict[str, np.ndarray]  # geom, msp, odin: higher = more in-distribution
    tune_in_index: np.ndarray
    tune_out_index: np.ndarray
    most_in_positions: np.ndarray
    most_in_images: np.ndarray
    most_out_positions: np.ndarray
    most_out_images: np.ndarray
    out_files: np.ndarray | None

    @classmethod
    def of(cls, run: RunInfo) -> OodScores:
        """The scores an OOD run saved; DamagedRunError naming what is missing."""
        arrays = run.scores()
        names = ("index", "is_in", "labels", *OOD_SCORES, "tune_in_index", "tune_out_index", "most_in_positions",
                 "most_in_images", "most_out_positions", "most_out_images")
        missing = [k for k in names if k not in arrays]
        if missing:
            raise DamagedRunError(f"{run.path} has scores without {', '.join(missing)}; run python -m core ood again")
        return cls(arrays["index"], arrays["is_in"].astype(bool), arrays["labels"],
                   {k: arrays[k].astype(np.float64) for k in OOD_SCORES}, arrays["tune_in_index"],
                   arrays["tune_out_index"], arrays["most_in_positions"], arrays["most_in_images"],
                   arrays["most_out_positions"], arrays["most_out_images"], arrays.get("out_files"))


def metric_rows(run: RunInfo) -> list[dict[str, str]]:
    """The run's metrics in %, one row per method, then the paper's rows for the same in-distribution set
    (their OOD set differs: the ``data`` column says which)."""
    rows = []
    odin_choice = run.meta.get("odin", {})
    for key, title in OOD_SCORES.items():
        if key == "odin" and odin_choice:
            title += f" (T={odin_choice['temperature']:g}, eps={odin_choice['epsilon']:.4f})"
        values = run.metrics.get(key, {})
        rows.append({"method": title, "data": f"{run.meta['dataset']} vs {run.meta.get('out_dataset', '?')} (ours)",
                     **{name: _percent(values.get(metric)) for metric, name in OOD_METRICS.items()}})
    for ref in paper_ood(run.meta["dataset"]):
        rows.append({"method": f"{OOD_SCORES.get(ref.method, ref.method)}, paper",
                     "data": f"{ref.in_dataset} vs {ref.out_dataset} (paper)",
                     **{name: f"{ref.values[metric]:.1f}" if metric in METRICS else "-"
                        for metric, name in OOD_METRICS.items()}})
    return rows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
