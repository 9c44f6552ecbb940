#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv.
# The CPU build of torch is pinned and installed *first*: the package itself asks for a
# range (torch>=2.1), which on a machine without torch would otherwise pull a multi-GB CUDA build.
# The dlib extra (dlib-bin + face_recognition_models, ~100 MB) gives a landmark detector that needs no manual download.
# Override with PGFLOW_TORCH (e.g. PGFLOW_TORCH="torch==2.13.0" or "torch" on a GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
stamp=.venv/.pgflow-installed
want="$(cat settings.ini setup.py | sha1sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q "${PGFLOW_TORCH:-torch==2.13.0}"
  python -m pip install -q -e ".[dev,dlib]"   # dlib: the offline landmark detector (pgflow[dlib]); dev lists it too
  echo "$want" > "$stamp"
fi
