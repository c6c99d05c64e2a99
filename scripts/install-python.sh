#!/usr/bin/env bash
# Installs the Python packages the kopf example operator needs (examples/kopf-operator/requirements.txt)
# into a virtual environment at .tools/python, so the end-to-end tests can run `.tools/python/bin/kopf`.
# Idempotent: does nothing when the pinned requirements are already installed there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/python"
req="$root/examples/kopf-operator/requirements.txt"
stamp="$venv/.requirements"
if [ -x "$venv/bin/kopf" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then exit 0; fi
python=${PYTHON:-python3}
if ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
"$venv/bin/kopf" --version
