#!/usr/bin/env bash
# Make the project's virtual environment .venv (once) and install mailbot into it.
#
#   bash tools/venv.sh          mailbot and its libraries (editable: edits to the code apply at once)
#   bash tools/venv.sh test     … and the test packages (pytest, hypothesis, aiosmtpd)
#
# Why a venv: the system Python of Debian 12 and Ubuntu 24.04 refuses a bare
# `pip install` (PEP 668, "externally-managed-environment"). Debian ships
# venv's pip separately (package python3-venv); it is installed here when
# missing (as root, or through sudo). PYTHON=python3.12 picks another
# interpreter; any Python >= 3.11 works.
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "tools/venv.sh: $py not found; install Python >= 3.11 (Debian/Ubuntu: apt-get install python3)" >&2
  exit 1
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "tools/venv.sh: mailbot needs Python >= 3.11, $py is $("$py" -V 2>&1); set PYTHON=python3.11 (or newer)" >&2
  exit 1
fi

if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian/Ubuntu: venv without ensurepip lives in pythonX.Y-venv (python3-venv depends on it).
    pkg=$("$py" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      if ! command -v sudo >/dev/null 2>&1; then
        echo "tools/venv.sh: $py cannot make a virtual environment; as root run: apt-get install $pkg" >&2
        exit 1
      fi
      sudo=sudo
      echo "tools/venv.sh: installing $pkg (Debian's venv for $py) with sudo" >&2
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "$pkg" >/dev/null || $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf .venv  # a half-made one (e.g. from a venv without ensurepip)
  "$py" -m venv .venv
fi

if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
