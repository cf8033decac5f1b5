"""How long each explorer page takes to render once a model is trained (issue: under a second).

Runs the app with Streamlit's AppTest (the page script and the sidebar, as a browser session would,
minus the browser's own drawing), selects a run, warms every page once (first model load, dataset
decode and score caching happen there), then switches between the pages ``--repeat`` times and
prints the median and worst seconds per page switch.

    python -m bench.page_times [--run RESULTS/geom/digits/3/tiny-seed0] [--repeat 5]

Without ``--run`` the newest run under $GEOM_RESULTS_DIR (else ./results) is used; train one with
``python -m core run --dataset digits --normal-class 3 --preset tiny``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from core.runs import find_runs, read_run, results_root  # noqa: E402
from explorer.state import RUN_KEY  # noqa: E402

APP = ROOT / "explorer" / "app.py"


def pages() -> list[str]:
    """The page files explorer/app.py lists, in its order."""
    return list(dict.fromkeys(re.findall(r'"pages"\s*/\s*"([\w-]+\.py)"', APP.read_text())))


def time_pages(run_path: Path, repeat: int, timeout_s: float = 600) -> dict[str, list[float]]:
    at = AppTest.from_file(str(APP), default_timeout=timeout_s)
    at.session_state[RUN_KEY] = str(run_path)
    at.run()
    names = pages()
    times: dict[str, list[float]] = {p: [] for p in names}
    for cycle in range(repeat + 1):  # cycle 0 is the warm-up
        for page in names:
            at.switch_page(str(ROOT / "pages" / page))
            start = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - start
            if at.exception:
                raise RuntimeError(f"{page} raised: {at.exception[0].value}")
            if cycle:
                times[page].append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder (default: the newest run under the results folder)")
    parser.add_argument("--repeat", type=int, default=5, help="timed switches per page after the warm-up")
    args = parser.parse_args()
    if args.run:
        run = read_run(args.run)
    else:
        runs = find_runs(results_root(), method="geom")
        if not runs:
            parser.error(f"no runs under {results_root()}: pass --run or train one with "
                         "python -m core run --dataset digits --normal-class 3 --preset tiny")
        run = runs[0]
    print(f"run: {run.label} ({run.path}), k = {run.meta['config']['transforms']}, {run.meta['n_test']} test images")
    times = time_pages(run.path, args.repeat)
    print(f"{'page':<16} {'median s':>9} {'max s':>7}")
    for page, values in times.items():
        print(f"{page:<16} {statistics.median(values):9.3f} {max(values):7.3f}")
    print(json.dumps({p: round(statistics.median(v), 3) for p, v in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
