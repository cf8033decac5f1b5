"""bench.threshold_fit's smoke path: both Dirichlet-fit options on one shared classifier, one JSON line each."""

from __future__ import annotations

import json

import pytest

from bench.threshold_fit import main
from core.config import DIRICHLET_FITS


@pytest.mark.slow
def test_smoke_prints_one_line_per_option_on_a_shared_classifier(capsys):
    main(["--smoke"])
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["dirichlet_fit"] for r in rows] == list(DIRICHLET_FITS)
    assert {r["dataset"] for r in rows} == {"digits"} and {r["preset"] for r in rows} == {"tiny"}
    training, held_out = rows
    # one classifier and one split under both fits: what does not depend on the fit is equal
    for key in ("auroc_simple", "held_out_images", "train_images", "test_images", "train_s"):
        assert training[key] == held_out[key], key
    for r in rows:
        assert 0.5 < r["auroc_dirichlet"] <= 1
        # the (1 - contamination) quantile of N held-out scores leaves within 1/N of them above it
        assert abs(r["fpr_held_out"] - r["contamination"]) <= 1 / r["held_out_images"] + 1e-4  # + rounding to 4 places
        assert 0 <= r["fpr_test_normal"] <= 1 and 0 <= r["flagged_test_anomalies"] <= 1
