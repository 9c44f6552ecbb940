"The counting of scripts/run_tests.py: skips apart from passes, and pytest failures without a report."
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import run_tests as rt

XML = """<testsuites><testsuite>
<testcase classname="t" name="ok"/>
<testcase classname="t" name="skip"><skipped message="no gpu"/></testcase>
<testcase classname="t" name="bad"><failure message="assert"/></testcase>
</testsuite></testsuites>"""


def test_skips_are_counted_apart(tmp_path):
    xml = tmp_path / "r.xml"; xml.write_text(XML)
    cases = rt.pytest_results(1, xml)
    assert [ok for _, ok, _ in cases] == [True, None, False]
    assert rt.summary(cases + [("notebook x", True, "")]).splitlines()[-2:] == ["1 skipped", "2 passed, 1 failed"]


def test_exit_1_without_report_is_a_failure(tmp_path):
    cases = rt.pytest_results(1, tmp_path / "missing.xml")
    assert [(n, ok) for n, ok, _ in cases] == [("pytest run", False)]
    assert rt.summary(cases).splitlines()[-2:] == ["0 skipped", "0 passed, 1 failed"]


def test_exit_1_with_only_passes_in_report_is_a_failure(tmp_path):
    xml = tmp_path / "r.xml"; xml.write_text('<testsuite><testcase classname="t" name="ok"/></testsuite>')
    assert [ok for _, ok, _ in rt.pytest_results(1, xml)] == [True, False]


def test_clean_and_empty_runs(tmp_path):
    xml = tmp_path / "r.xml"; xml.write_text('<testsuite><testcase classname="t" name="ok"/></testsuite>')
    assert [ok for _, ok, _ in rt.pytest_results(0, xml)] == [True]
    assert rt.pytest_results(5, tmp_path / "missing.xml") == []          # no tests collected
    assert [ok for _, ok, _ in rt.pytest_results(2, xml)] == [True, False]  # interrupted / internal error


def test_unreadable_report_is_a_failure(tmp_path):
    xml = tmp_path / "r.xml"; xml.write_text("<testsuite><testcase")
    assert [ok for _, ok, _ in rt.pytest_results(0, xml)] == [False]
