"""The app with Streamlit's AppTest (every page listed in explorer/app.py), and once as a real server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from explorer.state import RUN_KEY
from tests.app_fixtures import (
    REPO_ROOT,
    exceptions,
    get,
    listed_pages,
    new_app,
    open_page,
    page_with_run,
    streamlit_server,
)

PAGES = listed_pages()
OTHER_PAGES = [p for p in PAGES if p != "home.py"]
TIMEOUT_S = 180  # the first run imports torch and loads digits on a busy 2-core CPU



def test_app_lists_the_pages_we_test() -> None:
    assert {"home.py", "scores.py"} <= set(PAGES)
    for page in PAGES:
        assert (REPO_ROOT / "pages" / page).is_file(), page


def test_home_on_a_fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No runs and no data folder: home explains GEOM and shows the 72 transforms of a digit."""
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("GEOM_DATA_DIR", str(tmp_path / "no-data"))
    at = new_app(TIMEOUT_S).run()
    assert not exceptions(at)
    assert at.title[0].value == "GEOM Explorer"
    assert any("72 transforms" in h.value for h in at.subheader)
    assert len(at.get("plotly_chart")) == 1
    assert any("No runs in" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_pages_without_a_run_say_what_to_do(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = open_page(new_app(TIMEOUT_S).run(), page)
    assert not exceptions(at)
    if "require_run()" in (REPO_ROOT / "pages" / page).read_text():  # pages that need a model say so
        assert any("No model chosen yet" in i.value for i in at.info)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_the_tiny_run(page: str, tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run(page, tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert "digits" in at.sidebar.success[0].value  # the sidebar names the chosen run


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_a_run_of_26_transforms(page: str, subset_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages drawn for the 72 transforms also open a run trained on fewer (--transforms)."""
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(subset_run.path.parents[3]))
    at = page_with_run(page, subset_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)


@pytest.mark.slow
def test_scores_page_numbers_and_threshold(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("scores.py", tiny_run.path, TIMEOUT_S)
    metrics = {m.label: m.value for m in at.metric}
    for key, label in (("auroc", "AUROC"), ("aupr_in", "AUPR-in"), ("aupr_out", "AUPR-out")):
        assert metrics[label] == f"{100 * tiny_run.metrics['dirichlet'][key]:.1f}"
    assert len(at.get("plotly_chart")) == 5  # ROC, PR, histogram, AUROC per class, training curves
    assert len(at.get("image")) >= 3  # most normal, most anomalous, false positives (+ false negatives if any)
    tpr_label = next(label for label in metrics if label.startswith("TPR"))
    assert float(metrics[tpr_label].rstrip("%")) >= 95.0  # default threshold: 95% TPR
    slider = at.slider[0]
    at = slider.set_value(slider.min).run()  # everything called normal
    values = {m.label: m.value for m in at.metric}
    assert values[tpr_label] == "100.0%" and values[next(k for k in values if k.startswith("FPR"))] == "100.0%"
    assert any("None at this threshold" in c.value for c in at.caption)  # no false negatives left
    at = at.radio[0].set_value("simple").run()
    assert not exceptions(at)
    assert at.metric[0].value == f"{100 * tiny_run.metrics['simple']['auroc']:.1f}"


@pytest.mark.slow
def test_scores_page_draws_the_training_curves_or_says_there_are_none(tiny_run, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    at = page_with_run("scores.py", tiny_run.path, TIMEOUT_S)
    panel = next(e for e in at.expander if e.label == "Training curves")
    assert len(panel.get("plotly_chart")) == 1 and not exceptions(at)
    old = tmp_path / tiny_run.path.relative_to(tiny_run.path.parents[3])  # the same run, as written before history
    shutil.copytree(tiny_run.path, old)
    (old / "history.json").unlink()
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path))
    at = page_with_run("scores.py", old, TIMEOUT_S)
    panel = next(e for e in at.expander if e.label == "Training curves")
    assert not exceptions(at) and not panel.get("plotly_chart")
    assert any("no training history" in c.value for c in panel.caption)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_a_normal_only_run(page: str, normal_only_run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(normal_only_run.path.parents[3]))
    at = page_with_run(page, normal_only_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    if page == "scores.py":
        assert any("AUROC not computed" in i.value for i in at.info)
        assert not at.metric and len(at.get("plotly_chart")) == 2  # the normal images' scores, training curves


@pytest.mark.slow
def test_run_query_parameter_selects_a_run_inside_the_results_folder(tiny_run, tiny_results_env: Path) -> None:
    relative = tiny_run.path.relative_to(tiny_results_env)
    at = new_app(TIMEOUT_S)
    at.query_params["run"] = str(relative)
    at.run()
    assert not exceptions(at)
    assert at.session_state[RUN_KEY] == str(tiny_run.path.resolve())
    # A link to a folder outside the results folder is ignored.
    outside = new_app(TIMEOUT_S)
    outside.query_params["run"] = str(REPO_ROOT)
    outside.run()
    assert RUN_KEY not in outside.session_state


@pytest.mark.slow
def test_real_streamlit_server_serves_the_app(tmp_path: Path) -> None:
    with streamlit_server({"GEOM_RESULTS_DIR": str(tmp_path / "results")}) as base:
        status, body = get(base + "/")
        assert status == 200
        assert '<div id="root">' in body or "streamlit" in body.lower()
        assert get(base + "/_stcore/health") == (200, "ok")
