"""Shared by the CLI tests: where this environment's console scripts are, and the environment they run in."""
import os, sys
from pathlib import Path

BIN = Path(sys.executable).parent      # pgflow-train etc. of the venv running the tests


def cli_env() -> dict:
    "os.environ with one thread per process, a headless matplotlib, and this venv's scripts first on PATH."
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return env
