#!/usr/bin/env bash
# Authoring aid: convert between a notebook and jupytext's percent script, for editing in a text editor.
#   tools/nb.sh to-py nbs/03_render.ipynb /tmp/03_render.py
#   tools/nb.sh to-nb /tmp/03_render.py nbs/03_render.ipynb
# The notebook stays the source of truth; the script is a scratch copy, never committed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jt="$here/.venv/bin/jupytext"
case "$1" in
  to-py) "$jt" --quiet --to py:percent "$2" -o "$3" ;;
  to-nb) upd=""; [ -f "$3" ] && upd="--update"  # --update keeps cell ids, so exports diff cleanly
         "$jt" --quiet --to ipynb $upd --set-kernel python3 "$2" -o "$3"
         "$here/.venv/bin/python" - "$3" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nb.metadata.pop("jupytext", None)
nbformat.write(nb, sys.argv[1])
PY
         "$here/.venv/bin/nbdev_clean" --fname "$3" ;;
  *) echo "usage: $0 to-py NOTEBOOK SCRIPT | to-nb SCRIPT NOTEBOOK" >&2; exit 2 ;;
esac
