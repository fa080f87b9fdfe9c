#!/usr/bin/env bash
# Sets up a fresh machine for p2ikit: apt packages, a venv, the project editable with dev extras.
# Idempotent; the Makefile reruns it only when settings.ini or setup.py change.
set -euo pipefail
venv=${1:-.venv}

# System packages: Open3D needs libusb at import time; the widget test drives Debian's chromium.
missing=()
for pkg in libusb-1.0-0 chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
apt_pid=""
if [ ${#missing[@]} -gt 0 ]; then   # in the background: apt and pip share nothing, so overlap them
  echo "setup: installing ${missing[*]} with apt-get"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  ( $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null ) &
  apt_pid=$!
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# --no-compile: byte-compiling all of torch costs more than compiling, on import, what is used
"$venv/bin/python" -m pip install -q --no-compile -e ".[dev]"
"$venv/bin/python" -m pip check
# Register the venv's kernel so nbdev_test, nbclient and JupyterLab run notebooks with it.
"$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
[ -z "$apt_pid" ] || wait "$apt_pid" || { echo "setup: apt-get failed" >&2; exit 1; }
echo "setup: ready ($venv) in $SECONDS s"
