#!/usr/bin/env bash
# Screenshots of the explorer for the README, taken with headless Chromium from the real app.
#
#   assets/screenshots/make.sh [RUN_DIR]
#
# RUN_DIR is a run folder (default: the newest run under $GEOM_RESULTS_DIR, else ./results); a
# `quick` run makes better pictures than a `tiny` one. Writes home.png, scores.png,
# transforms.png and results.png (the tables of the run's results folder) next to this script (tests/headless.py does the work). Needs chromium.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
run=${1:-$(python3 -c "from core.runs import find_runs, results_root; r = find_runs(results_root(), method='geom'); print(r[0].path if r else '')")}
[[ -n $run ]] || { echo "no run found: pass a run folder, or train one with python -m core run" >&2; exit 1; }
exec python3 tests/headless.py "$run" "$here"
