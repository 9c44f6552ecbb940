"""Make README.md from nbs/index.ipynb without Quarto (which `nbdev_readme` needs).

Markdown cells are copied; code cells become ```python blocks (cells flagged `#| hide`
are left out and nbdev `#|` directive lines dropped); text outputs become plain blocks;
image outputs are left out (point to committed images from markdown instead).
`--check` exits 1 if README.md differs from what would be written.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cell_source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def render(nb):
    parts = []
    for cell in nb["cells"]:
        src = cell_source(cell)
        if cell["cell_type"] == "markdown":
            # links relative to nbs/ (right for the docs site) must be relative to the repo root here
            parts.append(src.strip().replace("](images/", "](nbs/images/"))
            continue
        if cell["cell_type"] != "code": continue
        lines = src.splitlines()
        flags = [l[3:].strip() for l in lines if l.startswith("#|")]
        if any(f.startswith("hide") for f in flags): continue
        code = "\n".join(l for l in lines if not l.startswith("#|")).strip()
        if code: parts.append(f"```python\n{code}\n```")
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain")
            if text and "image/png" not in out.get("data", {}):
                text = "".join(text) if isinstance(text, list) else text
                parts.append("```\n" + text.rstrip() + "\n```")
    return ("<!-- made from nbs/index.ipynb by scripts/make_readme.py: edit the notebook -->\n\n"
            + "\n\n".join(p for p in parts if p) + "\n")


def main():
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    text, readme = render(nb), ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print("README.md is out of date: run `python scripts/make_readme.py`")
            sys.exit(1)
        return
    readme.write_text(text)


if __name__ == "__main__":
    main()
