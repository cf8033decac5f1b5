"""bench.energy_terms: DSEBM's energy split into its terms, DAGMM's energy in the authors' float32 arithmetic."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from bench.energy_terms import KERAS_EPSILON, dsebm_terms, keras_energy
from core.baselines.dsebm import DSEBM
from core.baselines.gmm import GaussianMixture
from core.data import load_dataset

ROOT = Path(__file__).resolve().parents[2]


def test_dsebm_terms_make_its_energy() -> None:
    x = load_dataset("digits").x_train[:80]
    det = DSEBM(DSEBM.preset_config("tiny", epochs=1, batch_size=32), "cpu").fit(x)
    model_input = det.prepare(x)
    terms = dsebm_terms(det, model_input)
    np.testing.assert_allclose(terms["prior"] - terms["network"], det.energy(model_input), rtol=1e-5, atol=1e-4)
    assert (terms["prior"] >= 0).all() and (terms["network"] >= 0).all()  # a squared distance; a sum of ReLUs


def test_keras_energy_matches_ours_near_the_mixture_and_floors_far_from_it() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(400, 3, generator=gen, dtype=torch.float64)
    gamma = torch.softmax(torch.randn(400, 2, generator=gen, dtype=torch.float64), dim=1)
    mixture = GaussianMixture.from_memberships(z, gamma, 1e-3)
    near = z[:50]
    np.testing.assert_allclose(keras_energy(mixture, near), mixture.energy(near).numpy(), atol=0.01)  # eps: ~1e-3 here
    far = torch.full((5, 3), 100.0, dtype=torch.float64)  # every component's density underflows in float32
    np.testing.assert_allclose(keras_energy(mixture, far), -math.log(2 * KERAS_EPSILON), rtol=1e-5)
    assert (mixture.energy(far).numpy() > 1000).all()  # ours keeps ranking them


def test_a_folder_without_runs_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.energy_terms", "--dataset", "digits", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "no dsebm,dagmm run of digits" in proc.stderr


def test_prints_a_line_per_run(tmp_path: Path) -> None:
    for method in ("dsebm", "dagmm"):
        proc = subprocess.run([sys.executable, "-m", "core", "baseline", "--method", method, "--dataset", "digits",
                               "--normal-class", "0", "--preset", "tiny", "--device", "cpu", "--out", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "bench.energy_terms", "--dataset", "digits", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [line["method"] for line in lines] == ["dagmm", "dsebm"]
    dagmm, dsebm = lines
    assert {"auroc_keras_float32", "tied_at_keras_floor", "auroc_one_batch_mixture"} <= set(dagmm)
    assert {"auroc_prior_term", "auroc_network_term", "auroc_distance_to_class_mean"} <= set(dsebm)
    assert all(0 <= v <= 100 for line in lines for k, v in line.items() if k.startswith("auroc"))
