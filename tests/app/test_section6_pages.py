"""The "Why it works" pages (ablation, ascent, attribution) with AppTest, and their figure builders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from app_fixtures import APP, exceptions, new_app, open_page, page_with_run
from streamlit.testing.v1 import AppTest

from explorer.figures import section6 as fig6

TIMEOUT_S = 300  # a busy 2-core CPU: torch import, a few training steps


def rng_images(n: int, h: int = 32, c: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, h, c), dtype=np.uint8)


# ----- figures -----------------------------------------------------------------------------------
def test_transform_examples_figure_has_one_tile_per_image_and_transform() -> None:
    ex = {"normal": rng_images(6).reshape(3, 2, 32, 32, 1), "anomaly": rng_images(4).reshape(2, 2, 32, 32, 1)}
    fig = fig6.transform_examples_figure(ex, ["id", "flip"], {"normal": "8", "anomaly": "3"})
    assert sum(isinstance(t, go.Image) for t in fig.data) == 10
    assert [a.text for a in fig.layout.annotations][:5] == ["8", "8", "8", "3", "3"]  # one column per sample
    with pytest.raises(ValueError):
        fig6.transform_examples_figure(ex, ["id"])


def test_confusion_figure_two_heatmaps_with_percentages() -> None:
    cn = np.array([[0.9, 0.1], [0.2, 0.8]])
    fig = fig6.confusion_figure(cn, np.eye(2), ["id", "flip"], "8", "3")
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and heat[0].text[0][0] == "90%"
    with pytest.raises(ValueError):
        fig6.confusion_figure(np.eye(3), np.eye(2), ["id", "flip"])


def test_seed_auroc_figure_mean_sem_and_paper() -> None:
    fig = fig6.seed_auroc_figure([("8v3-flip", [0.6, 0.7, 0.65], 0.646), ("custom", [0.9], None)])
    means = [t for t in fig.data if t.name == "ours: mean ± SEM"]
    assert means[0].y[0] == pytest.approx(0.65)
    assert means[0].error_y.array[0] == pytest.approx(np.std([0.6, 0.7, 0.65], ddof=1) / np.sqrt(3))
    assert sum(t.name == "paper" for t in fig.data) == 1


def test_frames_figure_is_an_animation_with_a_slider() -> None:
    frames = rng_images(5)
    fig = fig6.frames_figure(frames, [0, 5, 10, 15, 20], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert len(fig.frames) == 5 and len(fig.layout.sliders[0].steps) == 5
    assert "score 0.1" in fig.layout.title.text
    with pytest.raises(ValueError):
        fig6.frames_figure(frames, [0, 1])


def test_score_curve_and_comparison_figures() -> None:
    fig = fig6.score_curve_figure({"simple": np.linspace(0, 1, 11), "dirichlet": np.linspace(-5, 1, 11)}, "simple")
    assert len(fig.data) == 2 and "maximised" in fig.layout.annotations[0].text
    img = rng_images(2)
    diff = np.random.default_rng(1).normal(size=(1, 32, 32))
    fig = fig6.ascent_comparison_figure(img[0], img[1], diff)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)][0]
    assert heat.zmin == -heat.zmax and np.asarray(heat.z).shape == (32, 32)


def test_attribution_overlay_shapes_and_scales() -> None:
    imgs = list(rng_images(2))
    signed = [np.random.default_rng(i).normal(size=(32, 32)) for i in range(2)]
    fig = fig6.attribution_overlay_figure(imgs, signed, ["a", "b"])
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and heat[0].zmin < 0 and heat[0].zmax == heat[1].zmax  # one shared scale
    fig = fig6.attribution_overlay_figure(imgs, [np.abs(m) for m in signed], ["a", "b"])
    assert [t for t in fig.data if isinstance(t, go.Heatmap)][0].zmin == 0  # saliency: sequential
    rgb = rng_images(1, c=3)[0]
    assert len(fig6.attribution_overlay_figure([rgb], [signed[0]], ["rgb"]).data) == 2
    with pytest.raises(ValueError):
        fig6.attribution_overlay_figure(imgs, [np.zeros((8, 8))] * 2, ["a", "b"])


# ----- pages ----------------------------------------------------------------------------------------

def test_pages_are_listed_in_the_app() -> None:
    text = APP.read_text()
    for page in ("ablation.py", "ascent.py", "attribution.py"):
        assert f'"pages" / "{page}"' in text


def widget(items, label: str):
    return next(w for w in items if w.label.startswith(label))


def choose_digits_experiment(at: AppTest) -> AppTest:
    """Your own experiment on the offline digits: 3 steps, 2 seeds."""
    at = widget(at.main.radio, "Experiment").set_value("your own").run()
    at = widget(at.main.selectbox, "Dataset").set_value("digits").run()
    widget(at.main.number_input, "Training steps").set_value(3)
    widget(at.main.number_input, "Seeds").set_value(2)
    return at.run()


@pytest.mark.slow
def test_ablation_page_trains_a_custom_experiment_on_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = open_page(new_app(TIMEOUT_S).run(), "ablation.py")
    assert not exceptions(at), exceptions(at)
    assert any("none is needed here" in i.value for i in at.info)
    at = choose_digits_experiment(at)
    assert not exceptions(at), exceptions(at)
    assert len(at.get("plotly_chart")) == 1  # the transformed examples, before any training
    at = next(b for b in at.button if b.label.startswith("Train 2 models")).click().run()
    assert not exceptions(at), exceptions(at)
    labels = [m.label for m in at.metric]
    assert "AUROC over 2 seed(s)" in labels
    value = next(m.value for m in at.metric if m.label.startswith("AUROC"))
    mean = float(value.split("±")[0])
    assert 0.0 <= mean <= 1.0
    assert len(at.get("plotly_chart")) == 3  # examples, confusion, seeds
    # A second visit shows the cached result without a button.
    again = open_page(new_app(TIMEOUT_S).run(), "ablation.py")
    again = choose_digits_experiment(again)
    assert not any(b.label.startswith("Train") and "model" in b.label for b in again.button)
    assert "AUROC over 2 seed(s)" in [m.label for m in again.metric]


@pytest.mark.slow
def test_ascent_page_with_the_tiny_run(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("ascent.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    widget(at.main.number_input, "Steps").set_value(4)
    at = at.run()
    at = next(b for b in at.button if b.label == "Run gradient ascent").click().run()
    assert not exceptions(at), exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    before, after = float(metrics["simple score before"]), float(metrics["simple score after"])
    assert after >= before
    assert len(at.get("plotly_chart")) == 3  # frames, curves, start / final / difference


@pytest.mark.slow
def test_attribution_page_with_the_tiny_run(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("attribution.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    # Saliency by default: score pair, one-transform pair, false positives (+ false negatives).
    assert len(at.get("plotly_chart")) >= 3
    assert any("Where the model goes wrong" in h.value for h in at.subheader)
    at = widget(at.main.radio, "Method").set_value("ig").run()
    assert not exceptions(at), exceptions(at)
    assert any("completeness" in c.value for c in at.caption)


def test_attribution_page_without_a_run_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = open_page(new_app(TIMEOUT_S).run(), "attribution.py")
    assert not exceptions(at)
    assert any("No model chosen yet" in i.value for i in at.info)
