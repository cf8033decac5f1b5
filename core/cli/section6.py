"""``python -m core ablation | ascent | explain``: the paper's Section 6 tools on the command line.

    python -m core ablation --preset 8v3-flip --seeds 5
    python -m core ablation --normal 3 --anomaly 8 --transforms rot4 --seeds 2
    python -m core ascent --run results/geom/mnist/3/quick-seed0 --index 3 --steps 200 --out ascent.png
    python -m core ascent --paper --start-class 0 --out zero_to_three.npz
    python -m core explain --run results/geom/mnist/3/quick-seed0 --index 18 --method ig --out ig.npz

Each prints a final JSON line with its numbers (and the files it wrote).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from core.ablation import PAPER_ABLATIONS, AblationSpec, run_ablation_seeds, with_overrides
from core.cli.args import fraction, int_at_least, non_negative_float, non_negative_int, positive_float, positive_int
from core.cli.commands import command
from core.cli.common import add_data_and_device, run_detector
from core.config import NETWORKS
from core.data import load_dataset
from core.detector import SCORE_METHODS
from core.pictures import write_ascent, write_attribution
from core.progress import ProgressBar


# ----- ablation ------------------------------------------------------------------------------------
def add_ablation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=list(PAPER_ABLATIONS), help="one of the paper's three experiments")
    p.add_argument("--dataset", help="mnist (default) or fashion_mnist, or any registry name")
    p.add_argument("--normal", help="normal class (id or name), e.g. 8")
    p.add_argument("--anomaly", help="anomalous class (id or name), e.g. 3")
    p.add_argument("--transforms", help="a transform set name (flip, translate7, rot4, flip_rot8, ...) or "
                                        "'flip,rows,cols,rot; ...' tuples")
    p.add_argument("--seeds", type=positive_int, default=5, help="number of seeds (0..N-1); the paper reports 5")
    p.add_argument("--steps", type=positive_int, help=f"training steps (default {AblationSpec.steps})")
    p.add_argument("--network", choices=NETWORKS, help="transform classifier: small_cnn (default) or wrn")
    p.add_argument("--weight-decay", type=non_negative_float,
                   help="Adam's L2 term (default: 0 for the small CNN, 5e-4 for the WRN)")
    p.add_argument("--max-test-images", type=positive_int, help="cap on the two classes' test images (default: all)")
    add_data_and_device(p)


@command("ablation",
         "Section 6: a two-transform detector on one class vs one other class, over seeds")(add_ablation_args)
def ablation_command(args: argparse.Namespace) -> int:
    base = PAPER_ABLATIONS[args.preset].spec if args.preset else AblationSpec()
    if not args.preset and args.normal is None:
        raise ValueError("give --preset (one of " + ", ".join(PAPER_ABLATIONS) + ") or --normal/--anomaly/--transforms")
    spec = with_overrides(base, dataset=args.dataset, normal=args.normal, anomaly=args.anomaly,
                          transforms=args.transforms, steps=args.steps, max_test_images=args.max_test_images,
                          network=args.network, weight_decay=args.weight_decay)
    bar = ProgressBar(spec.label)
    seeds = list(range(args.seeds))

    def progress(i: int, n: int, p) -> None:
        if p is not None:
            bar.update((i + p.fraction) / n, f"seed {i + 1}/{n} step {p.step}/{p.total_steps} loss {p.loss:.3f}")
        else:
            bar.update(i / n, f"{i}/{n} seeds done")

    summary = run_ablation_seeds(spec, seeds, args.data_dir, args.device, progress)
    names = summary.runs[0].transform_names
    print(f"{summary.normal_label} (normal) vs {summary.anomaly_label} (anomaly), transforms {names}")
    for r in summary.runs:
        print(f"  seed {r.seed}: AUROC {r.auroc['dirichlet']:.3f} (simplified {r.auroc['simple']:.3f}), "
              f"transform accuracy normal {r.accuracy_normal:.2f} / anomalous {r.accuracy_anomalous:.2f}")
    mean, sem = summary.auroc()
    paper = "" if summary.paper_auroc is None else f" (paper: {summary.paper_auroc:.3f})"
    print(f"AUROC {mean:.3f} ± {sem:.3f} over {len(seeds)} seeds{paper}")
    line = summary.to_json()
    line.pop("runs")
    line["preset"] = args.preset
    print(json.dumps(line))
    return 0


# ----- shared: one of a run's dataset's test images ------------------------------------------------
def _test_image(dataset: str, data_dir: str | None, index: int) -> tuple[np.ndarray, int]:
    data = load_dataset(dataset, data_dir)
    if not 0 <= index < len(data.x_test):
        raise ValueError(f"--index {index} is out of range: {data.name} has {len(data.x_test)} test images "
                         f"(0..{len(data.x_test) - 1})")
    return data.x_test[index:index + 1], int(data.y_test[index])


def _suffix(path: str, allowed: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"--out {path}: write a {' or '.join(allowed)} file")
    return suffix


# ----- ascent ---------------------------------------------------------------------------------------
def add_ascent_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a run folder (its model and dataset)")
    src.add_argument("--paper", action="store_true", help="the paper's Figure 1 model: MNIST digit 3, flip x rotations "
                                                          "(trained here, a few minutes on a CPU)")
    p.add_argument("--index", type=non_negative_int, help="test-set index of the start image (default: the first test "
                                                          "image of --start-class)")
    p.add_argument("--start-class", type=non_negative_int, default=0,
                   help="with --paper and no --index: start from this digit's first test image (the paper: 0, and 3)")
    p.add_argument("--steps", type=positive_int, default=200)
    p.add_argument("--step-size", type=positive_float, default=0.05,
                   help="largest pixel change per step (pixels in [-1, 1])")
    p.add_argument("--score", choices=SCORE_METHODS, default="simple", help="score to maximise (the paper: simple)")
    p.add_argument("--keep-top", type=fraction, default=1.0,
                   help="update only this fraction of pixels (largest |grad*x|); 1 = all (the authors kept 0.2)")
    p.add_argument("--smooth", type=non_negative_float, default=1.0,
                   help="Gaussian sigma (pixels) of each update; 0 = none")
    p.add_argument("--no-clip", action="store_true", help="let pixels leave [-1, 1]")
    p.add_argument("--frame-every", type=positive_int, default=20)
    p.add_argument("--out", help="write the frames: .png (a strip: frames, then the difference) or .npz (arrays)")
    add_data_and_device(p)


@command("ascent", "Figure 1: gradient ascent on an image's pixels to raise its normality score")(add_ascent_args)
def ascent_command(args: argparse.Namespace) -> int:
    from core.ascent import PAPER_ASCENT, AscentSettings, gradient_ascent, start_images, train_preset_detector

    settings = AscentSettings(args.steps, args.step_size, args.score, args.keep_top, args.smooth, not args.no_clip,
                              args.frame_every)
    if args.out:
        _suffix(args.out, (".png", ".npz"))
    if args.paper:
        dataset = PAPER_ASCENT.dataset
        data = load_dataset(dataset, args.data_dir)  # fail fast, before training
        index = args.index if args.index is not None else int(start_images(data, args.start_class)[0][0])
        image, label = _test_image(dataset, args.data_dir, index)
        bar = ProgressBar("training the digit-3 flip x rotation model")
        det = train_preset_detector(PAPER_ASCENT, args.data_dir, args.device, bar.train)
        source = "paper preset"
    else:
        det, run = run_detector(args.run, args.device)
        dataset = run.meta["dataset"]
        if args.index is None:
            raise ValueError("--index is required with --run (a test-set index of the run's dataset)")
        index = args.index
        image, label = _test_image(dataset, args.data_dir, index)
        source = str(run.path)
    bar = ProgressBar("ascent")
    result = gradient_ascent(det, image, settings, lambda s, n, v: bar.update(s / n, f"step {s}/{n} score {v:.4f}"))
    if args.out:
        write_ascent(result, args.out)
    line = {"source": source, "dataset": dataset, "index": index, "label": label, **asdict(settings),
            **{k: round(v, 6) for k, v in result.summary().items()}, "out": args.out}
    print(json.dumps(line))
    return 0


# ----- explain --------------------------------------------------------------------------------------
def add_explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="a run folder (its model and dataset)")
    p.add_argument("--index", type=non_negative_int, required=True, help="test-set index of the image to explain")
    p.add_argument("--method", choices=["ig", "saliency", "occlusion"], default="ig")
    p.add_argument("--score", choices=SCORE_METHODS, default="dirichlet", help="the normality score explained")
    p.add_argument("--transform", type=non_negative_int,
                   help="explain log p(right transform) of this transform index instead of the score")
    p.add_argument("--steps", type=int_at_least(2), default=32,
                   help="Integrated Gradients: points on the path (2 or more)")
    p.add_argument("--baseline", choices=["black", "grey"], default="black")
    p.add_argument("--window", type=positive_int, default=6, help="Occlusion window side (pixels)")
    p.add_argument("--stride", type=positive_int, default=3, help="Occlusion stride (pixels)")
    p.add_argument("--out", help="write the map: .npz (arrays) or .png (image | attribution)")
    add_data_and_device(p)


@command("explain",
         "captum attributions of an image's normality score (or of one transform's recognition)")(add_explain_args)
def explain_command(args: argparse.Namespace) -> int:
    from core.explain import ExplainSettings, explain_score, explain_transforms

    if args.out:
        _suffix(args.out, (".png", ".npz"))
    settings = ExplainSettings(method=args.method, score=args.score, n_steps=args.steps, baseline=args.baseline,
                               window=args.window, stride=args.stride)
    det, run = run_detector(args.run, args.device)
    image, label = _test_image(run.meta["dataset"], args.data_dir, args.index)
    bar = ProgressBar(f"{args.method}")
    progress = lambda d, n: bar.update(d / n, f"{d}/{n} forward passes")  # noqa: E731
    if args.transform is None:
        attr = explain_score(det, image, settings, progress)
    else:
        attr = explain_transforms(det, image, [args.transform], settings, progress)
    if args.out:
        write_attribution(attr, image[0], args.out)
    line = {"run": str(run.path), "index": args.index, "label": label, "method": args.method, "target": attr.target,
            "value": round(float(attr.value[0]), 6), "baseline_value": round(float(attr.baseline_value[0]), 6),
            "attribution_sum": round(float(attr.maps[0].sum()), 6),
            "convergence_delta": None if attr.delta is None else round(float(attr.delta[0]), 6), "out": args.out}
    print(json.dumps(line))
    return 0
