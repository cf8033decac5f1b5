"""Why DSEBM and DAGMM land where they do: their energies taken apart, from saved run folders.

Nothing is trained: every complete DSEBM or DAGMM run of a dataset under the results folder is
loaded, its test set scored once more, and one JSON line printed per run.

- **DSEBM**, E(x) = 0.5 ||x - b'||^2 - sum ReLU(W h(x) + b): the AUROC of the energy, of each of its
  two terms alone (the Gaussian prior around the learnt image b', and the network's term), and of
  the distance to the normal training images' mean image (what the prior's b' would tend to, fully
  trained), with the largest |b'|. With Adam each step moves b' by about the learning rate, so a
  short budget leaves it far from a class mean whose background sits at -1.
- **DAGMM**: the AUROC of our sample energy (float64, log domain, the mixture fitted on all the
  training images) against the authors' Keras arithmetic on the same network and features
  (float32, exp of the Mahalanobis term, K.epsilon() added to every component, whose sum floors
  the density at 3e-7), with the number of test images tied at that floor, and against the mixture
  of one random training batch of 256 (their layer kept the last batch's).

    GEOM_DATA_DIR=../shared/data python -m bench.energy_terms --dataset fashion_mnist --out results
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from core.baselines import load_run_detector
from core.baselines.dagmm import DAGMM
from core.baselines.dsebm import DSEBM
from core.baselines.gmm import GaussianMixture
from core.baselines.training import map_batches
from core.data import load_dataset
from core.runs import find_runs, results_root

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), added to every component's density by the authors' layer
BATCH_MIXTURE_IMAGES = 256  # the authors' DAGMM batch: the mixture their layer kept at the end


def dsebm_terms(det: DSEBM, x: torch.Tensor) -> dict[str, np.ndarray]:
    """The two terms of each image's energy (energy = prior - network), float64."""
    assert det.net is not None
    net = det.net.eval()
    with torch.no_grad():
        prior = map_batches(lambda b: 0.5 * (b - net.prior).square().flatten(1).sum(1), x, det.device)
        network = map_batches(lambda b: net.encoder(b).sum(1), x, det.device)
    return {"prior": prior.double().numpy(), "network": network.double().numpy()}


def keras_energy(mixture: GaussianMixture, z: torch.Tensor) -> np.ndarray:
    """-log p(z) as the authors' Keras layer computed it: float32, each component's density
    phi exp(-maha / 2) / sqrt(det(2 pi Sigma) + eps) + eps, summed."""
    z = z.float()
    density = torch.zeros(len(z))
    for phi, mu, cov in zip(mixture.phi.float(), mixture.mu.float(), mixture.cov.float(), strict=True):
        diff = z - mu
        maha = ((diff @ torch.linalg.inv(cov)) * diff).sum(1)
        density += phi * torch.exp(-0.5 * maha) / torch.sqrt(torch.det(2 * math.pi * cov) + KERAS_EPSILON)
        density += KERAS_EPSILON
    return (-torch.log(density)).double().numpy()


def auroc(is_normal: np.ndarray, normality: np.ndarray) -> float:
    return round(100 * float(roc_auc_score(is_normal, normality)), 1)


def diagnose(det: Any, x_test: torch.Tensor, is_normal: np.ndarray, x_normal_train: torch.Tensor,
             seed: int) -> dict[str, Any]:
    """One run's figures (see the module docstring); ``det`` a fitted DSEBM or DAGMM."""
    if isinstance(det, DSEBM):
        terms = dsebm_terms(det, x_test)
        mean_image = x_normal_train.mean(0)
        to_mean = (x_test - mean_image).square().flatten(1).sum(1).double().numpy()
        return {"auroc_energy": auroc(is_normal, terms["network"] - terms["prior"]),
                "auroc_prior_term": auroc(is_normal, -terms["prior"]),
                "auroc_network_term": auroc(is_normal, terms["network"]),
                "auroc_distance_to_class_mean": auroc(is_normal, -to_mean),
                "prior_abs_max": round(float(det.net.prior.abs().max()), 3),
                "class_mean_min": round(float(mean_image.min()), 3)}
    if isinstance(det, DAGMM):
        assert det.mixture is not None
        z, _ = det.embed(x_test)
        ours, keras = det.mixture.energy(z).numpy(), keras_energy(det.mixture, z)
        floor = -math.log(det.mixture.phi.numel() * KERAS_EPSILON)
        pick = torch.randperm(len(x_normal_train), generator=torch.Generator().manual_seed(seed))[:BATCH_MIXTURE_IMAGES]
        batch_z, batch_gamma = det.embed(x_normal_train[pick])
        one_batch = GaussianMixture.from_memberships(batch_z, batch_gamma, det.config.cov_eps)
        return {"auroc_energy": auroc(is_normal, -ours),
                "auroc_keras_float32": auroc(is_normal, -keras),
                "tied_at_keras_floor": int(np.sum(keras >= floor - 1e-3)),
                "auroc_one_batch_mixture": auroc(is_normal, -one_batch.energy(z).numpy()),
                "auroc_one_batch_mixture_keras_float32": auroc(is_normal, -keras_energy(one_batch, z))}
    raise TypeError(f"no diagnosis for {type(det).__name__}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", help="results folder (default: $GEOM_RESULTS_DIR, else ./results)")
    p.add_argument("--data-dir")
    p.add_argument("--methods", default="dsebm,dagmm")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    data = load_dataset(args.dataset, args.data_dir)
    runs = [r for m in args.methods.split(",") for r in find_runs(results_root(args.out), m.strip(), args.dataset)]
    if not runs:
        print(f"no {args.methods} run of {args.dataset} under {results_root(args.out)}", file=sys.stderr)
        return 1
    for run in sorted(runs, key=lambda r: (r.meta["method"], r.meta["normal_class"], r.meta["seed"])):
        det = load_run_detector(run, device="cpu")
        cls = int(run.meta["normal_class"])
        x_test = det.prepare(data.x_test)
        x_train = det.prepare(data.x_train[np.asarray(data.y_train) == cls])
        line = {"method": run.meta["method"], "dataset": args.dataset, "class": cls, "preset": run.meta["preset"],
                "seed": run.meta["seed"]}
        print(json.dumps(line | diagnose(det, x_test, np.asarray(data.y_test) == cls, x_train, run.meta["seed"])),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
