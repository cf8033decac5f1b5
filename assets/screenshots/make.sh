#!/usr/bin/env bash
# Screenshots of the explorer for the README, taken with headless Chromium from the real app.
#
#   assets/screenshots/make.sh [RUN_DIR]
#
# RUN_DIR is a run folder (default: the newest run under $GEOM_RESULTS_DIR, else ./results); a
# `quick` run makes better pictures than a `tiny` one. Writes home.png, scores.png, transforms.png
# next to this script. Needs chromium (apt-get install chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
command -v chromium >/dev/null || { echo "chromium is not installed" >&2; exit 1; }

run=${1:-$(python3 -c "from core.runs import find_runs, results_root; r = find_runs(results_root(), method='geom'); print(r[0].path if r else '')")}
[[ -n $run && -f $run/run.json ]] || { echo "no run folder: pass one, or train one with python -m core run" >&2; exit 1; }
run=$(cd "$run" && pwd -P)
root=$(cd "$run/../../../.." && pwd -P)  # <root>/geom/<dataset>/<class>/<name>
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")

GEOM_RESULTS_DIR=$root python3 -m streamlit run explorer/app.py --server.headless true --server.port "$port" \
  --server.address 127.0.0.1 --browser.gatherUsageStats false --server.fileWatcherType none >/dev/null 2>&1 &
server=$!
profile=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$profile"' EXIT
for _ in $(seq 120); do
  [[ $(curl -s "http://127.0.0.1:$port/_stcore/health" || true) == ok ]] && break
  sleep 1
done

browse() {  # browse URL WIDTHxHEIGHT ACTION...
  local url=$1 size=$2; shift 2
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
    --window-size="${size/x/,}" --virtual-time-budget=15000 "$@" "$url" 2>/dev/null
}

shoot() {  # shoot PAGE_PATH NAME WIDTHxHEIGHT: wait until Streamlit has finished the page, then shoot
  local url="http://127.0.0.1:$port/$1?run=$run"
  for _ in $(seq 30); do
    browse "$url" "$3" --dump-dom | grep -q 'data-test-script-state="notRunning"' && break
    sleep 2
  done
  browse "$url" "$3" --screenshot="$here/$2.png" >/dev/null
  echo "wrote $here/$2.png"
}

shoot "" home 1400x1650
shoot scores scores 1400x2300
shoot transforms transforms 1400x1800
