"""Every page of the real app in headless Chromium: it renders, shows no exception, and is screenshotted.

The app runs as ``streamlit run`` on a free port; one headless Chromium (tests/headless.py) opens each
page with ``?run=<tiny run>`` (session state is not in a URL; explorer/state.py selects a run named
that way), waits in real time until Streamlit reports the script finished and the charts are
drawn, then checks the DOM and saves a screenshot to $GEOM_SCREENSHOT_DIR (else a tmp folder).
Skipped, with the reason, where chromium is not installed (CI installs Debian's package).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_fixtures import listed_pages, streamlit_server, url_path
from tests.headless import CHROMIUM, Chromium

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")]


@pytest.fixture(scope="module")
def server(tiny_results_dir: Path) -> Iterator[str]:
    with streamlit_server({"GEOM_RESULTS_DIR": str(tiny_results_dir)}) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium(1400, 1000) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("GEOM_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("page", listed_pages())
def test_page_renders_without_exception(page: str, server: str, browser: Chromium, tiny_run,
                                        tiny_results_dir: Path, shot_dir: Path) -> None:
    url = f"{server}/{url_path(page)}?run={tiny_run.path.relative_to(tiny_results_dir)}"
    finished = browser.open(url, timeout_s=180)
    png = browser.screenshot(shot_dir / f"{Path(page).stem}.png")  # also on failure: it shows what went wrong
    dom = browser.dom()
    assert finished, f"{page}: not drawn within 180 s (script state {browser.script_state()!r}); see {png}"
    assert "stException" not in dom and "Traceback" not in dom, f"{page} shows an exception; see {png}"
    assert "No model chosen yet" not in dom, f"{page}: ?run= did not select the tiny run"
    assert "digits · 3" in dom  # the sidebar names the run
    assert 'data-testid="stHeading"' in dom, f"{page} rendered no heading"
    assert png.stat().st_size > 10_000
    if page == "upload.py":  # .streamlit/config.toml, read by `streamlit run` from the repository root
        assert "20MB per file" in dom, f"the uploader announces another limit; see {png}"


def test_training_goes_on_while_the_user_browses(browser: Chromium, tmp_path: Path, shot_dir: Path) -> None:
    """Train (digits, class 0, tiny: the sidebar's defaults), switch to Scores mid-training in the
    same session, and find the run opened there once it is done."""
    with streamlit_server({"GEOM_RESULTS_DIR": str(tmp_path / "results")}) as base:
        assert browser.open(base + "/", timeout_s=180)
        browser.evaluate("[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Train').click()")
        assert browser.wait_for("document.body.innerText.includes('step ')", 180), "no training progress shown"
        browser.evaluate("document.querySelector('a[href$=\"/scores\"]').click()")  # in-app: the same session
        assert browser.wait_for("document.body.innerText.includes('No model chosen yet')", 60)
        mid = browser.screenshot(shot_dir / "training-mid.png")
        assert browser.wait_for("!!document.querySelector('[data-testid=\"stProgress\"]')", 10), f"see {mid}"
        done = browser.wait_for("document.body.innerText.includes('Scores · digits · normal class 0')", 400)
        png = browser.screenshot(shot_dir / "training-done.png")
        assert done, f"the finished run did not open; see {png}"
        dom = browser.dom()
        assert "stException" not in dom and "saving to" not in dom
        assert (tmp_path / "results" / "geom" / "digits" / "0" / "tiny-seed0" / "model.pt").is_file()
