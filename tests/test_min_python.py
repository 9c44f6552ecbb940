"""The package parses on the oldest Python that settings.ini allows (`min_python`), and the README's set-up
line names that same version."""
import ast, configparser, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "pgflow").glob("*.py"))
MIN_PYTHON = configparser.ConfigParser()
MIN_PYTHON.read(ROOT / "settings.ini")
MIN_PYTHON = MIN_PYTHON["DEFAULT"]["min_python"]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_parses_on_min_python(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=tuple(int(v) for v in MIN_PYTHON.split(".")))


def test_readme_names_min_python():
    for doc in (ROOT / "README.md", ROOT / "nbs" / "index.ipynb"):
        said = set(re.findall(r"Python (3\.\d+)\+", doc.read_text()))
        assert said == {MIN_PYTHON}, f"{doc.name} says Python {said}+, settings.ini min_python = {MIN_PYTHON}"
