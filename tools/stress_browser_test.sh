#!/usr/bin/env bash
# The browser test under load: runs tests/test_widgets_browser.py RUNS times (default 5) while
# `stress-ng --cpu 2` keeps both cores busy beside it, and prints the pass count.
#   bash tools/stress_browser_test.sh [RUNS]
# stress-ng is Debian's package; installed with apt-get when missing (needs root or sudo).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
if ! command -v stress-ng >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq stress-ng >/dev/null
fi
if ! command -v stress-ng >/dev/null; then
  echo "stress-ng is missing and could not be installed" >&2
  exit 2
fi
stress-ng --cpu 2 --timeout 0 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null' EXIT
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
pass=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  log="/tmp/stress_browser_$i.log"
  if "$here/.venv/bin/python" -m pytest "$here/tests/test_widgets_browser.py" -x -q \
      -p no:cacheprovider > "$log" 2>&1; then
    pass=$((pass + 1)); verdict=passed
  else
    verdict="FAILED (log: $log)"
  fi
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "run $i/$runs: $verdict in $(( $(date +%s) - start )) s, load average $load"
done
echo "browser test beside stress-ng --cpu 2: $pass/$runs passed"
[ "$pass" -eq "$runs" ]
