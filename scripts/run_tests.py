"""Run all of pgflow's checks and tests and print `N skipped`, then `N passed, N failed` as the last line.

1. consistency checks: `nbdev_export` leaves `pgflow/` unchanged, `nbdev_clean` leaves
   `nbs/` unchanged, README.md is what `scripts/make_readme.py` makes from `nbs/index.ipynb`;
2. every notebook through `nbdev_test --flags slow` (one process per notebook, two at a time):
   the `#| slow` cells run too (`tst_flags = slow cuda` in settings.ini skips them in a plain
   `nbdev_test`); `#| cuda` cells run only where torch sees a CUDA device;
3. `pytest tests/` (CLI end to end, multi-process training).
Each notebook, each pytest test and each check counts as one test. A skipped pytest case is
counted as skipped, not passed. A pytest run that fails without writing its JUnit report (a
crash, a collection error, an internal error) counts as one failure.
The last two lines are `N skipped` and `N passed, N failed` (the line CI reads).
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


def notebook_flags():
    "The nbdev test flags to force: `slow` always; `cuda` where torch sees a CUDA device."
    flags = ["slow"]
    try:
        import torch
        if torch.cuda.is_available(): flags.append("cuda")
    except ImportError: pass
    return " ".join(flags)


def test_notebook(nb, flags="slow"):
    t0 = time.time()
    r = run(["nbdev_test", "--path", str(nb), "--do_print", "--flags", flags])
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
    flags = notebook_flags()
    print(f"notebooks: nbdev_test --flags '{flags}'", flush=True)
    with ThreadPoolExecutor(workers) as ex:
        for name, ok, secs, out in ex.map(lambda nb: test_notebook(nb, flags), nbs):
            results.append((f"notebook {name}", ok, out))
            print(f"{'PASS' if ok else 'FAIL'} notebook: {name} ({secs:.0f}s)" + ("" if ok else f"\n{out}"), flush=True)

    tests = ROOT / "tests"
    if any(tests.glob("test_*.py")):
        xml = ROOT / ".pytest-results.xml"
        if xml.exists(): xml.unlink()  # never read a report an earlier run left behind
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
                            f"--junitxml={xml}"], cwd=ROOT)
        print(f"pytest finished in {time.time() - t0:.0f}s", flush=True)
        results += pytest_results(r.returncode, xml)
        if xml.exists(): xml.unlink()

    print(summary(results))
    sys.exit(1 if any(ok is False for _, ok, _ in results) else 0)


def junit_cases(xml):
    "One `(name, ok, detail)` per pytest case in a JUnit XML file; `ok` is None for a skipped case."
    out = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        bad = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        out.append((f"pytest {case.get('classname')}::{case.get('name')}", None if skipped and not bad else not bad, ""))
    return out


def pytest_results(returncode, xml):
    "The cases of pytest's JUnit report, plus one failure when pytest failed in a way the report does not show."
    try: cases = junit_cases(xml) if Path(xml).exists() else []
    except ET.ParseError as e: return [("pytest JUnit report", False, f"unreadable: {e}")]
    if returncode == 1 and not any(ok is False for _, ok, _ in cases):  # tests failed, but no report says which
        cases.append(("pytest run", False, "pytest exited 1 and no JUnit report records a failure"))
    elif returncode not in (0, 1, 5):  # 5: no tests collected
        cases.append(("pytest run", False, f"pytest exited {returncode}"))
    return cases


def summary(results):
    "Lines naming each failure and skip, then `N skipped`, then `N passed, N failed`."
    failed = [n for n, ok, _ in results if ok is False]
    skipped = [n for n, ok, _ in results if ok is None]
    lines = [f"failed: {n}" for n in failed] + [f"skipped: {n}" for n in skipped]
    lines.append(f"{len(skipped)} skipped")   # its own line: the last line is exactly `N passed, N failed`, what CI reads
    lines.append(f"{sum(ok is True for _, ok, _ in results)} passed, {len(failed)} failed")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
