"""The package must import on Python 3.9 (settings.ini: min_python = 3.9): no syntax newer than 3.9, and no
`X | Y` annotation evaluated at definition time (3.10+) in a module without `from __future__ import annotations`."""
import ast
from pathlib import Path

import pytest

FILES = sorted((Path(__file__).resolve().parents[1] / "pgflow").glob("*.py"))


def _runtime_union_annotations(tree):
    "Line numbers of annotations using `|` (evaluated at def time unless postponed)."
    lines = []
    for n in ast.walk(tree):
        anns = []
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            anns = [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x is not None]
            anns.append(n.returns)
        elif isinstance(n, ast.AnnAssign):
            anns = [n.annotation]
        for ann in anns:
            if ann is not None and any(isinstance(x, ast.BinOp) and isinstance(x.op, ast.BitOr) for x in ast.walk(ann)):
                lines.append(n.lineno)
    return lines


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_parses_on_python_39(path):
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
                    for n in tree.body)
    if not postponed:
        assert _runtime_union_annotations(tree) == [], f"{path.name}: `X | Y` annotations need `from __future__ import annotations`"
