#!/usr/bin/env bash
# Builds the Python environment of peer_bench.py at ${NT_VENV:-/tmp/ntvenv}
# (CPU only) from the pinned requirements beside this script; idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${NT_VENV:-/tmp/ntvenv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import neural_tangents" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
