"""The Results page (AppTest) and its figure builders, on run folders written without training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.data import FASHION_MNIST_CLASSES
from core.metrics import detection_metrics
from core.reproduce import build_table, collect_runs
from core.runs import run_dir, write_run
from explorer.figures.results import class_bar_chart, roc_overlay
from tests.app_fixtures import APP, REPO_ROOT, new_app, open_page

NAMES = list(FASHION_MNIST_CLASSES)
# method -> how well its fake scores separate normal from anomalous (bigger = higher AUROC)
METHODS = {"geom": 2.0, "raw-ocsvm-hindsight": 1.5, "raw-ocsvm-fair": 1.0}


def write_fake_runs(root: Path, seeds: dict[str, list[int]] | None = None) -> None:
    """Fashion-MNIST run folders for every class, as reproduce would leave them (tiny test set)."""
    labels = np.repeat(np.arange(10), 20)
    for method, sep in METHODS.items():
        key = "dirichlet" if method == "geom" else "score"
        for c in range(10):
            for seed in (seeds or {}).get(method, [0]):
                is_normal = labels == c
                score = sep * is_normal + np.random.default_rng(100 * c + seed).normal(size=len(labels))
                meta = {"method": method, "dataset": "fashion_mnist", "normal_class": c, "class_name": NAMES[c],
                        "class_label": f"{c} - {NAMES[c]}", "class_names": NAMES, "preset": "quick", "seed": seed,
                        "seconds": 3.0, "created": f"2026-01-01T00:00:{c:02d}"}
                if method != "geom":
                    meta |= {"score_key": "score", "paper_method": "raw-ocsvm"}
                write_run(run_dir(root, method, "fashion_mnist", c, f"quick-seed{seed}"), meta,
                          {key: detection_metrics(is_normal, score)},
                          {"test_index": np.arange(len(labels)), "labels": labels, "is_normal": is_normal, key: score})


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    write_fake_runs(root, {"geom": [0, 1]})
    return root


def open_results(monkeypatch: pytest.MonkeyPatch, root: Path) -> AppTest:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(root))
    return open_page(new_app(180).run(), "results.py")


def test_page_is_listed_in_the_app() -> None:
    assert '"pages" / "results.py"' in APP.read_text()


def test_results_page_shows_tables_bars_and_roc(monkeypatch: pytest.MonkeyPatch, results_root: Path) -> None:
    at = open_results(monkeypatch, results_root)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Results: GEOM vs the baselines"
    df = at.dataframe[0].value
    assert list(df.columns) == ["class", "GEOM ours", "GEOM paper", "RAW-OC-SVM (hindsight) ours",
                                "RAW-OC-SVM (hindsight) paper", "RAW-OC-SVM (fair) ours",
                                "RAW-OC-SVM paper (hindsight)"]
    assert len(df) == 11 and df["class"].iloc[-1] == "avg"
    assert df["GEOM paper"].iloc[1] == "99.2 ± 0.0"  # Trouser, by standard label
    assert "±" in df["GEOM ours"].iloc[0]  # two GEOM seeds: mean ± SEM
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # bars per class, ROC overlay
    # Another class and metric: the page reruns cleanly and the table follows the metric.
    metric = [r for r in at.radio if r.label == "Metric"][0]
    metric.set_value("aupr_out").run()
    assert not at.exception
    assert "AUPR-out" in [s.value for s in at.subheader][0]
    cls = [s for s in at.selectbox if s.label == "Normal class"][0]
    cls.set_value(7).run()
    assert not at.exception


def test_method_filter(monkeypatch: pytest.MonkeyPatch, results_root: Path) -> None:
    at = open_results(monkeypatch, results_root)
    at.multiselect[0].set_value(["geom"]).run()
    assert not at.exception
    assert list(at.dataframe[0].value.columns) == ["class", "GEOM ours", "GEOM paper"]


def test_results_page_without_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_results(monkeypatch, tmp_path / "empty")
    assert not at.exception
    assert any("No complete runs" in i.value for i in at.info)
    if list((REPO_ROOT / "benchmarks" / "results").glob("*_quick.md")):  # the committed measurements instead
        assert any("Measured tables" in s.value for s in at.subheader)
        assert any("| **avg** |" in m.value for m in at.markdown)


def test_figures(results_root: Path) -> None:
    runs = collect_runs(results_root, "fashion_mnist", list(METHODS), "quick")
    table = build_table(runs, "fashion_mnist", "auroc", NAMES, "quick")
    fig = class_bar_chart(table)
    bars = [t for t in fig.data if t.type == "bar"]
    diamonds = [t for t in fig.data if t.type == "scatter"]
    assert len(bars) == 3 and len(diamonds) == 2  # both OC-SVM modes share the paper's (hindsight) diamonds
    assert len(bars[0].x) == 11 and list(fig.layout.xaxis.ticktext)[-1] == "avg"
    np.testing.assert_allclose(bars[0].x, diamonds[0].x)  # each paper diamond sits on its own bar
    assert diamonds[0].y[1] == 99.2
    labels = np.repeat(np.arange(10), 20)
    curves = {m: (labels == 0, -np.abs(labels - 0.2 * i)) for i, m in enumerate(METHODS)}
    roc = roc_overlay(curves, paper_auroc={"geom": 90.8})
    names = [t.name for t in roc.data]
    assert names[0].startswith("chance") and len(names) == 4
    assert names[1] == "GEOM: 100.0 (paper 90.8)"
