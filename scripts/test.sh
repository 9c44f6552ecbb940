#!/usr/bin/env bash
# The test command: set up .venv if needed, then run every check and test and print
# a final line "N passed, N failed". Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/run_tests.py "$@"
