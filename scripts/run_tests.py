"""Run all of pgflow's checks and tests and print `N passed, N failed`.

1. consistency checks: `nbdev_export` leaves `pgflow/` unchanged, `nbdev_clean` leaves
   `nbs/` unchanged, README.md is what `scripts/make_readme.py` makes from `nbs/index.ipynb`;
2. every notebook through `nbdev_test` (one process per notebook, two at a time);
3. `pytest tests/` (CLI end to end, multi-process training).
Each notebook, each pytest test and each check counts as one test.
"""
import os, subprocess, sys, time, xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)


def git_changes(path):
    "Tracked changes and untracked files under `path` (relative to the repo root)."
    r = run(["git", "status", "--porcelain", "--", path])
    return r.stdout.strip()


def check(name, fn, results):
    ok, detail = fn()
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} check: {name}" + ("" if ok else f"\n{detail}"), flush=True)


def export_unchanged():
    before = git_changes("pgflow")
    r = run(["nbdev_export"])
    after = git_changes("pgflow")
    return r.returncode == 0 and before == after == "", (r.stderr[-2000:] + "\n" + after
        + "\n(run nbdev_export and commit pgflow/)")


def notebooks_clean():
    before = git_changes("nbs")
    r = run(["nbdev_clean"])
    after = git_changes("nbs")
    return r.returncode == 0 and before == after == "", (r.stderr[-2000:] + "\n" + after
        + "\n(run nbdev_clean and commit nbs/)")


def readme_current():
    r = run([sys.executable, "scripts/make_readme.py", "--check"])
    return r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_notebook(nb):
    t0 = time.time()
    r = run(["nbdev_test", "--path", str(nb), "--do_print"])
    return nb.name, r.returncode == 0, time.time() - t0, (r.stdout + r.stderr)[-6000:]


def main():
    in_git = run(["git", "rev-parse", "--git-dir"]).returncode == 0
    results = []
    if in_git and "--no-checks" not in sys.argv:
        check("nbdev_export leaves pgflow/ unchanged", export_unchanged, results)
        check("nbdev_clean leaves nbs/ unchanged", notebooks_clean, results)
    check("README.md is made from nbs/index.ipynb", readme_current, results)

    nbs = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
                 if not p.name.startswith("_") and ".ipynb_checkpoints" not in p.parts)
    workers = int(os.environ.get("PGFLOW_TEST_WORKERS", "2"))
    env_threads = str(max(1, (os.cpu_count() or 2) // workers))
    os.environ.setdefault("OMP_NUM_THREADS", env_threads)
    with ThreadPoolExecutor(workers) as ex:
        for name, ok, secs, out in ex.map(test_notebook, nbs):
            results.append((f"notebook {name}", ok, out))
            print(f"{'PASS' if ok else 'FAIL'} notebook: {name} ({secs:.0f}s)" + ("" if ok else f"\n{out}"), flush=True)

    tests = ROOT / "tests"
    if any(tests.glob("test_*.py")):
        xml = ROOT / ".pytest-results.xml"
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
                            f"--junitxml={xml}"], cwd=ROOT)
        print(f"pytest finished in {time.time() - t0:.0f}s", flush=True)
        if xml.exists():
            suite = ET.parse(xml).getroot()
            for case in suite.iter("testcase"):
                bad = case.find("failure") is not None or case.find("error") is not None
                results.append((f"pytest {case.get('classname')}::{case.get('name')}", not bad, ""))
            xml.unlink()
        if r.returncode not in (0, 1, 5):  # 1: failures, counted above; 5: no tests
            results.append(("pytest run", False, f"pytest exited {r.returncode}"))

    failed = [n for n, ok, _ in results if not ok]
    for n in failed: print(f"failed: {n}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
