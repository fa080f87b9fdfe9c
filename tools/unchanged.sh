#!/usr/bin/env bash
# usage: unchanged.sh MESSAGE PATH -- COMMAND...
# Runs COMMAND and fails with MESSAGE if it changed anything under PATH (untracked files included).
set -euo pipefail
msg=$1; path=$2; shift 3
snapshot() { find "$path" -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' -print0 2>/dev/null \
    | sort -z | xargs -0 -r sha256sum; }
before=$(snapshot)
"$@" >/dev/null
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAIL: $msg"
  diff <(echo "$before") <(echo "$after") | head -20 || true
  exit 1
fi
echo "ok: $path unchanged by $(basename "$1")"
