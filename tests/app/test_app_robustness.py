"""The explorer survives its users (issue 13): training outlives clicks, odd or damaged run folders
never take a page down, and the app says what it expects (AppTest over explorer/app.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from explorer.state import RUN_KEY
from tests.app_fixtures import (
    REPO_ROOT,
    baseline_run,
    copy_run,
    exceptions,
    listed_pages,
    new_app,
    open_page,
    page_with_run,
)

PAGES = listed_pages()
RUN_PAGES = [p for p in PAGES if "require_run()" in (REPO_ROOT / "pages" / p).read_text()]
TIMEOUT_S = 180


def sidebar_texts(at) -> str:
    """Everything the sidebar says in text elements and widget labels, as one string."""
    kinds = ("success", "warning", "error", "caption", "subheader")
    parts = [e.value for kind in kinds for e in getattr(at.sidebar, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.slow
def test_training_outlives_a_page_change_and_opens_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.jobs import JOBS

    results = tmp_path / "results"
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(results))
    at = new_app(TIMEOUT_S).run()
    next(s for s in at.sidebar.selectbox if s.label == "Normal class").set_value(5)
    start = time.monotonic()
    at = next(b for b in at.sidebar.button if b.label == "Train").click().run()
    assert not exceptions(at), exceptions(at)
    key = str((results / "geom" / "digits" / "5" / "tiny-seed0").resolve())
    job = JOBS.get(key)
    assert job is not None and job.active, "the click returned before training ended: training is a job"
    assert time.monotonic() - start < 30
    assert "Training" in sidebar_texts(at)

    # A second training waits in a visible queue, and Cancel drops it before it starts.
    next(s for s in at.sidebar.selectbox if s.label == "Normal class").set_value(6)
    at = next(b for b in at.sidebar.button if b.label == "Train").click().run()
    queued = str((results / "geom" / "digits" / "6" / "tiny-seed0").resolve())
    assert "digits · 6 · tiny · seed 0**: waiting, 1 training(s) ahead" in sidebar_texts(at)
    at = at.button(key=f"cancel-{queued}").click().run()
    assert not exceptions(at), exceptions(at)
    assert "digits · 6 · tiny · seed 0 cancelled; nothing was saved" in sidebar_texts(at)
    assert JOBS.get(queued).state == "cancelled" and job.active

    at = open_page(at, "scores.py")  # the user browses meanwhile: the job goes on
    assert not exceptions(at), exceptions(at)
    assert any("No model chosen yet" in i.value for i in at.info)
    assert job.active and "digits · 5" in job.title
    assert at.get("progress"), "the sidebar shows the job's progress on every page"
    deadline = time.monotonic() + 300
    while job.active:
        assert time.monotonic() < deadline, f"training did not finish: {job.text}"
        time.sleep(1)
    assert job.error == "" and job.result is not None and job.result.is_dir()

    at.run()  # the sidebar's next redraw opens the finished run for the session that asked
    assert not exceptions(at), exceptions(at)
    assert at.session_state[RUN_KEY] == key
    assert at.title[0].value.startswith("Scores · digits · normal class 5")
    assert "saving to" not in sidebar_texts(at) and not at.get("progress")  # nothing left over under the run


@pytest.mark.parametrize("page", PAGES)
def test_a_baseline_run_by_link_is_refused_politely(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    run = baseline_run(results)
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(results))
    at = new_app(TIMEOUT_S)
    at.query_params["run"] = str(run.relative_to(results))
    at = open_page(at.run(), page)
    assert not exceptions(at), exceptions(at)
    assert "deep-svdd baseline" in at.sidebar.success[0].value  # the sidebar stays and names the run
    assert next(s for s in at.sidebar.selectbox if s.label == "Run").value == str(run.resolve())
    if page in RUN_PAGES:
        assert any("Results vs baselines" in w.value for w in at.warning)


@pytest.mark.slow
def test_damaged_runs_never_take_a_page_down(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    made = {how: copy_run(tiny_run.path, results / how)
            for how in ("intact", "no-label", "bad-json", "no-scores", "short-scores", "short-model")}
    meta = json.loads((made["no-label"] / "run.json").read_text())
    del meta["class_label"]
    (made["no-label"] / "run.json").write_text(json.dumps(meta))
    (made["bad-json"] / "run.json").write_text("{")
    (made["no-scores"] / "scores.npz").unlink()
    for how, name in (("short-scores", "scores.npz"), ("short-model", "model.pt")):
        data = (made[how] / name).read_bytes()
        (made[how] / name).write_bytes(data[: len(data) // 3])
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(results))

    for page in PAGES:
        at = page_with_run(page, made["intact"], TIMEOUT_S)
        assert not exceptions(at), (page, exceptions(at))
    expander = next(e for e in at.sidebar.expander if "damaged" in e.label)
    assert expander.label.startswith("3 damaged")
    reasons = "\n".join(c.value for c in expander.caption)
    assert "lacks class_label" in reasons and "damaged run.json" in reasons and "missing scores.npz" in reasons

    for page in ("scores.py", "transforms.py", "upload.py", "attribution.py"):
        at = page_with_run(page, made["short-scores"], TIMEOUT_S)
        assert not exceptions(at), (page, exceptions(at))
        if page != "attribution.py":  # attribution loads the model first: the scores error may not be reached
            assert any("scores cannot be read" in e.value and "scores.npz is damaged" in e.value
                       for e in at.error), page
    for page in ("scores.py", "transforms.py", "upload.py", "attribution.py"):
        at = page_with_run(page, made["short-model"], TIMEOUT_S)
        assert not exceptions(at), (page, exceptions(at))
        if page != "scores.py":  # the Scores page reads no model
            assert any("model cannot be loaded" in e.value for e in at.error), page


@pytest.mark.slow
def test_an_interrupted_write_is_recovered_at_start_up(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    results = tmp_path / "results"
    run = copy_run(tiny_run.path, results)
    old = run.parent / f".{run.name}.old-0123abcd"  # killed between write_run's renames, nothing newer complete
    run.rename(old)
    (run.parent / f".{run.name}.tmp-4567cdef").mkdir()
    then = time.time() - 3600
    for leftover in run.parent.iterdir():
        os.utime(leftover, (then, then))
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(results))
    with caplog.at_level("WARNING", logger="core.runs"):
        at = new_app(TIMEOUT_S).run()
    assert not exceptions(at), exceptions(at)
    assert sorted(p.name for p in run.parent.iterdir()) == [run.name]
    assert f"restored {run}" in caplog.text
    assert next(s for s in at.sidebar.selectbox if s.label == "Run").options  # listed again


def test_ablation_page_without_mnist_offers_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("GEOM_DATA_DIR", str(tmp_path / "no-data"))
    at = open_page(new_app(TIMEOUT_S).run(), "ablation.py")
    assert not exceptions(at), exceptions(at)
    assert not at.error
    said = "\n".join(e.value for kind in (at.info, at.warning) for e in kind)
    assert "offline **digits**" in said and "GEOM_DATA_DIR" in said and "sidebar" in said
    assert "download=False" not in said and "--data-dir" not in said
    assert len(at.get("plotly_chart")) == 1  # the experiment's images, from digits
    assert any(b.label.startswith("Train 3 models") for b in at.button)


def test_upload_limit_in_the_streamlit_config_matches_the_app() -> None:
    """``streamlit run`` from the repository root reads .streamlit/config.toml: the uploader must
    announce the limit core.images enforces."""
    from core.images import MAX_FILE_BYTES

    code = ("import streamlit.config as c; c.get_config_options(force_reparse=True); "
            "print(c.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[-1]) == MAX_FILE_BYTES // 2**20


@pytest.mark.slow
def test_score_scale_and_dark_matrices_are_explained(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("scores.py", tiny_run.path, TIMEOUT_S)
    assert any("means nothing on its own" in c.value and "percentile" in c.value for c in at.caption)
    at = page_with_run("transforms.py", tiny_run.path, TIMEOUT_S)
    assert any("look dark" in c.value and "Stretch colours" in c.value for c in at.caption)
    at = at.toggle[0].set_value(True).run()  # stretched: nothing to explain
    assert not any("look dark" in c.value for c in at.caption)


@pytest.mark.slow
def test_run_picker_shows_the_run_a_link_opened(tiny_run, tiny_results_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """As with the README's command: a relative results folder (the default ``results``)."""
    monkeypatch.chdir(tiny_results_dir.parent)
    monkeypatch.setenv("GEOM_RESULTS_DIR", tiny_results_dir.name)
    at = new_app(TIMEOUT_S)
    at.query_params["run"] = str(tiny_run.path.relative_to(tiny_results_dir))
    at.run()
    assert not exceptions(at), exceptions(at)
    picker = next(s for s in at.sidebar.selectbox if s.label == "Run")
    assert picker.value == str(tiny_run.path.resolve())


@pytest.mark.slow
def test_open_a_run_folder_outside_the_results_folder(tiny_run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    run = copy_run(tiny_run.path, elsewhere)
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("GEOM_RUN_ROOTS", raising=False)

    def open_folder():
        at = new_app(TIMEOUT_S).run()
        next(t for t in at.sidebar.text_input if t.label == "Run folder").set_value(str(run))
        return next(b for b in at.sidebar.button if b.label == "Open").click().run()

    at = open_folder()
    assert not exceptions(at), exceptions(at)
    assert RUN_KEY not in at.session_state
    assert any("outside the folders" in e.value and "GEOM_RUN_ROOTS" in e.value for e in at.sidebar.error)

    monkeypatch.setenv("GEOM_RUN_ROOTS", str(elsewhere))
    at = open_folder()
    assert not exceptions(at), exceptions(at)
    assert at.session_state[RUN_KEY] == str(run.resolve())
    assert "digits · 3" in at.sidebar.success[0].value
