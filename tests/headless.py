"""Headless Chromium driven over the DevTools protocol on a pipe (stdlib only), for real-browser checks.

Why not ``chromium --headless --dump-dom --virtual-time-budget=...``: virtual time runs ahead of
the clock and does not wait for Streamlit's websocket, so a page whose script needs more than a few
real seconds (a cold server, a busy CPU) is captured half-drawn. Here we wait in real time until
Streamlit marks the script finished and every plotly chart is drawn, then read the DOM and take
the screenshot from the same page load.

Also a script, used by assets/screenshots/make.sh::

    python tests/headless.py RUN_DIR OUT_DIR   # home, scores, transforms, results .png of RUN_DIR
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCRIPT_STATE = "document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state')"
# Streamlit has finished the script and the browser has drawn every chart it sent.
CHARTS = "[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
READY = ("!window.__geomOldPage && (" + SCRIPT_STATE + " === 'notRunning') && " + CHARTS
         + ".every(c => c.querySelector('.main-svg'))")


class Chromium:
    """One headless browser with one tab; ``open`` a URL, then read ``dom()`` or ``screenshot()``."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="geom-chromium-")
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()

        def wire_fds() -> None:  # --remote-debugging-pipe reads commands on fd 3, answers on fd 4
            import fcntl

            a, b = fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer, self._id = b"", 0
        target = self._call("Target.createTarget", None, url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", None, targetId=target, flatten=True)["sessionId"]
        self.resize(width, height)

    def _call(self, method: str, session: str | None, **params: object) -> dict:
        self._id += 1
        message: dict = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:  # replies and events arrive NUL-separated; skip events until our reply
            while b"\0" not in self._buffer:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _page(self, method: str, **params: object) -> dict:
        return self._call(method, self._session, **params)

    def evaluate(self, expression: str) -> object:
        return self._page("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def resize(self, width: int, height: int) -> None:
        self._page("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def open(self, url: str, timeout_s: float = 120.0, settle_s: float = 1.5) -> bool:
        """Load ``url`` and wait (real time) until the Streamlit page is drawn; False on timeout.

        ``settle_s`` more seconds let the browser decode images inside charts (plotly draws its SVG
        frame first and fills in an image trace's PNG afterwards).
        """
        self.evaluate("window.__geomOldPage = true")  # gone once the new document replaces this one
        self._page("Page.navigate", url=url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate(READY):
                time.sleep(settle_s)
                return True
            time.sleep(0.5)
        return False

    def wait_for(self, expression: str, timeout_s: float) -> bool:
        """Poll a JavaScript condition in real time until it holds; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.5)
        return False

    def script_state(self) -> str | None:
        return self.evaluate(SCRIPT_STATE)

    def dom(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path | str) -> Path:
        data = self._page("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The README's screenshots: (url path, file name, viewport height at width 1400).
README_SHOTS = (("", "home", 1650), ("scores", "scores", 2300), ("transforms", "transforms", 1800),
                ("results", "results", 2000))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("Also a script")[1], file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from app_fixtures import streamlit_server

    run, out = Path(argv[0]).resolve(), Path(argv[1])
    if not (run / "run.json").is_file():
        print(f"{run} is not a run folder", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server({"GEOM_RESULTS_DIR": str(run.parents[3])}) as base, Chromium() as browser:
        for path, name, height in README_SHOTS:
            browser.resize(1400, height)
            if not browser.open(f"{base}/{path}?run={run}", timeout_s=300, settle_s=4.0):
                print(f"{name}: the page did not finish rendering", file=sys.stderr)
                return 1
            print(f"wrote {browser.screenshot(out / f'{name}.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
