"""Every page of the real app in headless Chromium: it renders, shows no exception, and is screenshotted.

Session state is not in a URL, so each page is opened with ``?run=<tiny run>`` (explorer/state.py
selects a run named that way). Screenshots go to $GEOM_SCREENSHOT_DIR when set (kept for a look),
else to a tmp folder. Skipped where no ``chromium`` is installed (CI installs Debian's package).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from app_fixtures import listed_pages, streamlit_server, url_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,1000", "--virtual-time-budget=15000"]
DONE = 'data-test-script-state="notRunning"'  # Streamlit's marker: the page script has finished


def chromium(url: str, *action: str) -> str:
    """Run headless Chromium once on ``url`` with ``action`` (--dump-dom or --screenshot=...)."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *action, url],
                              capture_output=True, text=True, timeout=120)
    return done.stdout


def rendered_dom(url: str, wait_s: float = 120.0) -> str:
    """The DOM once Streamlit reports the script finished.

    Chromium's virtual time does not wait for the app's websocket, so a cold server (the first
    session imports torch and loads the data) can be caught mid-run: ask again until it is done.
    """
    deadline = time.monotonic() + wait_s
    while True:
        dom = chromium(url, "--dump-dom")
        if (DONE in dom and 'data-testid="stHeading"' in dom) or time.monotonic() > deadline:
            return dom
        time.sleep(2)


@pytest.fixture(scope="module")
def server(tiny_results_dir: Path) -> str:
    with streamlit_server({"GEOM_RESULTS_DIR": str(tiny_results_dir)}) as base:
        yield base


@pytest.fixture(scope="module")
def shot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("GEOM_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("page", listed_pages())
def test_page_renders_without_exception(page: str, server: str, tiny_run, tiny_results_dir: Path, shot_dir: Path) -> None:
    url = f"{server}/{url_path(page)}?run={tiny_run.path.relative_to(tiny_results_dir)}"
    dom = rendered_dom(url)
    assert DONE in dom, f"{page}: Streamlit never finished rendering {url}"
    assert "stException" not in dom and "Traceback" not in dom, f"{page} shows an exception:\n{dom[-3000:]}"
    assert "No model chosen yet" not in dom, f"{page}: ?run= did not select the tiny run"
    assert "digits · 3" in dom  # the sidebar names the run
    png = shot_dir / f"{Path(page).stem}.png"
    chromium(url, f"--screenshot={png}")
    assert png.is_file() and png.stat().st_size > 10_000, f"no screenshot of {page}"
