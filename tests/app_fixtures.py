"""Helpers for the app tests: which pages explorer/app.py lists, AppTest drivers, and a real
``streamlit run`` server.

Pages are read from app.py's source rather than by importing it (importing runs the app), so a page
added there is tested without editing the tests.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # streamlit's test harness is imported only by the tests that drive pages
    from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = REPO_ROOT / "explorer" / "app.py"


def listed_pages() -> list[str]:
    """File names of the pages explorer/app.py wires (e.g. ``["home.py", "scores.py", ...]``)."""
    names = re.findall(r'"pages"\s*/\s*"([\w-]+\.py)"', APP.read_text())
    return list(dict.fromkeys(names))


def url_path(page_file: str) -> str:
    """The URL st.navigation gives a page: its file stem, the default (home) page at ``/``."""
    stem = Path(page_file).stem
    return "" if stem == "home" else stem


def new_app(timeout_s: float) -> AppTest:
    """The whole app (navigation + sidebar) under AppTest, not run yet."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=timeout_s)


def open_page(at: AppTest, page: str) -> AppTest:
    """Switch a run app to ``pages/<page>`` and run it."""
    at.switch_page(str(REPO_ROOT / "pages" / page))
    return at.run()


def page_with_run(page: str, run_path: Path, timeout_s: float) -> AppTest:
    """``pages/<page>`` with ``run_path`` already chosen in the session, as the sidebar would."""
    from explorer.state import RUN_KEY

    at = new_app(timeout_s)
    at.session_state[RUN_KEY] = str(run_path)
    return open_page(at.run(), page)


def exceptions(at: AppTest) -> list[str]:
    """The tracebacks a page showed (st.exception boxes), empty when it ran cleanly."""
    return [e.value for e in at.exception]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """(status, body) of a GET."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, startup_s: float = 90.0) -> Iterator[str]:
    """Run ``streamlit run explorer/app.py`` headless on a free port; yield its base URL.

    Waits for ``/_stcore/health`` to answer ``ok``; the server (and only it) is terminated on exit.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = tempfile.TemporaryFile("w+")  # the server's output, quoted if it fails to start
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)

    def output() -> str:
        log.seek(0)
        return log.read()[-3000:]

    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode} before serving:\n{output()}")
            try:
                if get(base + "/_stcore/health", 2.0) == (200, "ok"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {base} within {startup_s:.0f}s:\n{output()}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def copy_run(run_path: Path, root: Path) -> Path:
    """A copy of a run folder at the same place under another results folder ``root``."""
    import shutil

    dest = root / Path(*run_path.parts[-4:])  # <method>/<dataset>/<class>/<name>
    shutil.copytree(run_path, dest)
    return dest


def thinned_run(run_path: Path, root: Path) -> Path:
    """A copy of a run under ``root`` that scored only the odd-numbered test images, so a position
    in its scores (0, 1, 2, ...) and a dataset test index (1, 3, 5, ...) never agree."""
    import numpy as np

    dest = copy_run(run_path, root)
    with np.load(dest / "scores.npz") as z:
        arrays = {k: z[k] for k in z.files}
    n = len(arrays["test_index"])
    keep = np.flatnonzero(arrays["test_index"] % 2 == 1)
    np.savez(dest / "scores.npz", **{k: v[keep] if v.ndim and len(v) == n else v for k, v in arrays.items()})
    return dest


def app_on_image(page: str, run_path: Path, image: str, timeout_s: float) -> AppTest:
    """``pages/<page>`` opened by a link ``?run=<run_path>&image=<image>``, as a gallery tile's."""
    at = new_app(timeout_s)
    at.query_params["run"] = str(run_path)
    at.query_params["image"] = image
    return open_page(at.run(), page)


def baseline_run(root: Path) -> Path:
    """A finished baseline run (as ``python -m core baseline`` leaves, model aside) under ``root``."""
    import numpy as np

    from core.metrics import detection_metrics
    from core.runs import run_dir, write_run

    is_normal = np.arange(40) % 4 == 0
    score = is_normal + np.random.default_rng(0).normal(scale=0.5, size=40)
    meta = {"method": "deep-svdd", "dataset": "digits", "normal_class": 3, "class_name": "3", "class_label": "3",
            "class_names": [str(i) for i in range(10)], "preset": "tiny", "seed": 0, "score_key": "score"}
    scores = {"test_index": np.arange(40), "labels": np.arange(40) % 10, "is_normal": is_normal, "score": score}
    return write_run(run_dir(root, "deep-svdd", "digits", 3, "tiny-seed0"), meta,
                     {"score": detection_metrics(is_normal, score)}, scores).path


def normal_only_folder(folder: Path, n: int = 40, digit: int = 3) -> Path:
    """A flat folder of ``n`` PNGs of one scikit-learn digit: normal-only data, as a user would bring it."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    images = digits.images[digits.target == digit][:n]
    for i, img in enumerate(images):
        Image.fromarray((img * 255 / 16).astype(np.uint8), "L").resize((32, 32)).save(folder / f"{i}.png")
    return folder


def geom_run_without_model(root: Path) -> Path:
    """A finished GEOM one-class run's folder (model aside) under ``root``: what the out-of-distribution
    readers must refuse, made in milliseconds instead of trained."""
    import numpy as np

    from core.metrics import detection_metrics
    from core.runs import run_dir, write_run

    is_normal = np.arange(40) % 4 == 0
    score = is_normal + np.random.default_rng(0).normal(scale=0.5, size=40)
    meta = {"method": "geom", "dataset": "digits", "normal_class": 3, "class_name": "3", "class_label": "3",
            "class_names": [str(i) for i in range(10)], "preset": "tiny", "seed": 0}
    scores = {"test_index": np.arange(40), "labels": np.arange(40) % 10, "is_normal": is_normal, "dirichlet": score,
              "simple": score}
    metrics = {m: detection_metrics(is_normal, score) for m in ("dirichlet", "simple")}
    return write_run(run_dir(root, "geom", "digits", 3, "tiny-seed0"), meta, metrics, scores).path


OOD_FOLDER_IMAGES = 40
"""How many readable images :func:`ood_folder` writes (besides its corrupt file and its text file)."""


def ood_folder(folder: Path) -> Path:
    """A folder an out-of-distribution set might arrive as: colour, grey and transparent PNGs and JPEGs of
    many sizes, half of them in a sub-folder, plus one corrupt PNG (``broken.png``) and a text file."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (folder / "more").mkdir(parents=True, exist_ok=True)
    for i in range(OOD_FOLDER_IMAGES):
        side = int(rng.integers(12, 90))
        mode = ("RGB", "L", "RGBA")[i % 3]
        shape = (side, side + i % 7) + (() if mode == "L" else (len(mode),))
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
        name = f"{'more/' if i % 2 else ''}img{i}.{'jpg' if mode == 'RGB' and i % 4 == 0 else 'png'}"
        image.save(folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "notes.txt").write_text("not an image")
    return folder
