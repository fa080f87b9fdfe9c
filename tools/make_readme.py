"""Writes README.md from nbs/index.ipynb (Quarto, which nbdev_readme needs, is not installable).

Markdown cells are copied, code cells become fenced Python; cells flagged `#| hide` and nbdev
directives are left out. Run with no arguments from the repository root.
"""
from pathlib import Path

import nbformat

root = Path(__file__).resolve().parents[1]


def cell_markdown(cell) -> str | None:
    lines = cell.source.splitlines()
    directives = [l for l in lines if l.startswith("#|")]
    if any(d.replace(" ", "") in ("#|hide", "#|exporthide") for d in directives): return None
    body = "\n".join(l for l in lines if not l.startswith("#|")).strip()
    if not body: return None
    return body if cell.cell_type == "markdown" else f"```python\n{body}\n```"


def main():
    nb = nbformat.read(root / "nbs" / "index.ipynb", as_version=4)
    parts = [m for c in nb.cells if c.cell_type in ("markdown", "code") and (m := cell_markdown(c))]
    text = ("<!-- Generated from nbs/index.ipynb by tools/make_readme.py: "
            "edit the notebook, not this file. -->\n\n")
    (root / "README.md").write_text(text + "\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__": main()
