"""The package's shape, measured from its source: imports form no circle (local imports inside
functions included), modules stay small, and notebooks keep their export cells short."""
import ast, json, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pgflow"
MODULES = sorted(p.stem for p in PKG.glob("*.py") if p.stem not in ("__init__", "_modidx"))


def imported_modules(path: Path, modules=None) -> set:
    """pgflow modules that `path` imports anywhere (top level or inside a function): `from .x`, `from pgflow.x`, `import pgflow.x`,
    `from pgflow import x`, and, in a module that calls `import_module`, every string naming `"pgflow.x"` or `"pgflow.x:name"` (what it may load)."""
    text = path.read_text()
    found = set(re.findall(r"[\"']pgflow\.(\w+)[\"':]", text)) if "import_module" in text else set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1 or mod == "pgflow" or mod.startswith("pgflow."):
                base = mod.split(".")[-1] if mod not in ("", "pgflow") else None
                if base: found.add(base)
                else: found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("pgflow."))
    return found & set(MODULES if modules is None else modules)


def import_graph() -> dict:
    return {m: imported_modules(PKG / f"{m}.py") - {m} for m in MODULES}


def circles(graph: dict) -> list:
    "Strongly connected components with more than one module (Tarjan)."
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in graph:
        if v not in index: visit(v)
    return out


def test_imports_form_no_circle():
    graph = import_graph()
    assert "fusemask" in graph["model"] and "videobench" in graph["bench"]   # a top-level import; a lazy one by name
    assert circles(graph) == [], circles(graph)


def test_the_reader_sees_every_import_form(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from .a import x\nfrom pgflow.b import y\nimport pgflow.c as c\nfrom pgflow import d\nfrom . import e\n"
                 "def f():\n    from pgflow.g import z\n    import importlib\n    return importlib.import_module('pgflow.h')\n"
                 "import numpy\nfrom .. import nothing\n")
    assert imported_modules(f, "abcdefgh") == set("abcdegh")


def test_the_reader_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_modules_are_small():
    sizes = {m: len((PKG / f"{m}.py").read_text().splitlines()) for m in MODULES}
    assert max(sizes.values()) <= 600, {m: n for m, n in sizes.items() if n > 600}
    assert sizes["train"] <= 450, sizes["train"]


def export_cell_lengths() -> list:
    "Lines (not counting `#|` directives) of every export cell of every notebook."
    lengths = []
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            src = "".join(c["source"]).splitlines()
            if c["cell_type"] == "code" and any(re.match(r"#\|\s*export\b", l) for l in src[:3]):
                lengths.append(sum(1 for l in src if not l.startswith("#|")))
    return lengths


def test_export_cells_are_short():
    lengths = export_cell_lengths()
    assert len(lengths) > 100
    assert statistics.median(lengths) <= 15, statistics.median(lengths)
