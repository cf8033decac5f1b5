"""The "Why it works" pages (ablation, ascent, attribution) with AppTest (figures: tests/figures/test_section6.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_fixtures import APP, exceptions, new_app, open_page, page_with_run

TIMEOUT_S = 300  # a busy 2-core CPU: torch import, a few training steps


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
    assert len(at.get("plotly_chart")) == 3  # examples, mean softmax, seeds
    assert any("Mean probabilities" in c.value for c in at.caption)
    # A second visit shows the cached result without a button.
    again = open_page(new_app(TIMEOUT_S).run(), "ablation.py")
    again = choose_digits_experiment(again)
    assert not any(b.label.startswith("Train") and "model" in b.label for b in again.button)
    assert "AUROC over 2 seed(s)" in [m.label for m in again.metric]


@pytest.mark.slow
def test_ablation_page_with_one_seed_claims_no_spread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = choose_digits_experiment(open_page(new_app(TIMEOUT_S).run(), "ablation.py"))
    widget(at.main.number_input, "Seeds").set_value(1)
    widget(at.main.number_input, "Training steps").set_value(4)  # not the other test's experiment
    at = next(b for b in at.run().button if b.label.startswith("Train 1 model")).click().run()
    assert not exceptions(at), exceptions(at)
    value = next(m.value for m in at.metric if m.label == "AUROC over 1 seed(s)")
    assert "±" not in value and 0.0 <= float(value) <= 1.0


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
    # Integrated Gradients by default: score pair, one-transform pair, false positives (+ false negatives).
    assert widget(at.main.radio, "Method").value == "ig"
    assert len(at.get("plotly_chart")) >= 3
    assert any("Where the model goes wrong" in h.value for h in at.subheader)
    assert any("completeness" in c.value for c in at.caption)
    at = widget(at.main.radio, "Method").set_value("saliency").run()
    assert not exceptions(at), exceptions(at)
    assert not any("completeness" in c.value for c in at.caption)


def test_attribution_page_without_a_run_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = open_page(new_app(TIMEOUT_S).run(), "attribution.py")
    assert not exceptions(at)
    assert any("No model chosen yet" in i.value for i in at.info)
