"""Checks the layout rules that no linter knows; `make test` runs it and fails on any finding.

- no module in p2ikit/ over 800 lines (`_modidx.py` aside);
- no exported notebook cell over 60 lines;
- a module imports only modules of notebooks above its own (the data walk runs one way);
- nobody reaches into another module's `_private` names: not the package, not the notebooks' tests,
  not tests/ (a class's own `self._x` is fine, and so is a name defined in the same module);
- third-party private names (plotly's `_data`, ...) only inside a class or function whose name says
  it is an adapter, so every workaround lives in one place with its own test;
- registries: one `Registry` class in core; no `register_*` function beside it.

Usage: python tools/check_layout.py [--root DIR]. Prints one line per finding; exit 1 if any.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

MAX_MODULE_LINES, MAX_CELL_LINES = 800, 60
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}


def exported_cells(nb_path: Path) -> tuple[str | None, list, list]:
    "(default_exp module, exported cells, other code cells); each cell as (index, source)."
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    module, exported, other = None, [], []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        directives = [l.replace(" ", "") for l in src.splitlines() if l.startswith("#|")]
        for d in directives:
            if d.startswith("#|default_exp"):
                module = d[len("#|default_exp"):]
        is_export = any(d in ("#|export", "#|exports") for d in directives)
        (exported if is_export else other).append((i, src))
    return module, exported, other


def module_order(root: Path) -> dict[str, int]:
    "Module name -> position of its notebook in nbs/ (sorted by file name)."
    order = {}
    for pos, nb in enumerate(sorted((root / "nbs").glob("*.ipynb"))):
        module = exported_cells(nb)[0]
        if module:
            order[module] = pos
    return order


def imported_modules(tree: ast.AST, this: str) -> list[tuple[str, list[str], int]]:
    "(p2ikit module, names, line) for each import of a p2ikit module in `tree`."
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = this.split(".")[:-node.level] if "." in this else []
                mod = ".".join(base + ([mod] if mod else []))
            elif mod.startswith("p2ikit"):
                mod = mod[len("p2ikit."):] if mod != "p2ikit" else ""
            else:
                continue
            names = [a.name for a in node.names]
            if mod == "":      # from p2ikit import core, ops
                found += [(n, [], node.lineno) for n in names]
            else:
                found.append((mod, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name[len("p2ikit."):], [], node.lineno) for a in node.names
                      if a.name.startswith("p2ikit.")]
    return found


def defined_private(tree: ast.AST) -> set[str]:
    "Private names a module defines: top-level names, methods, class attributes, `self._x = ...`."
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


class PrivateReaches(ast.NodeVisitor):
    "Attribute reads `x._name` on anything but self/cls/super(); records the enclosing scopes."
    def __init__(self):
        self.scopes, self.found = [], []

    def _scoped(self, node):
        self.scopes.append(node.name)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def visit_Attribute(self, node):
        attr = node.attr
        base = node.value
        own = isinstance(base, ast.Name) and base.id in ("self", "cls")
        own |= isinstance(base, ast.Call) and getattr(base.func, "id", None) == "super"
        private = attr.startswith("_") and not attr.startswith("__")
        if private and not own and attr not in NAMEDTUPLE_API:
            self.found.append((attr, node.lineno, list(self.scopes)))
        self.generic_visit(node)


def check_source(src: str, where: str, this: str | None, own: set[str], all_private: set[str],
                 order: dict[str, int], exported: bool) -> list[str]:
    "Findings for one module (exported=True) or one test source (exported=False)."
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []      # magics in notebook test cells: ruff and nbdev_test see those
    out = []
    for mod, names, line in imported_modules(tree, this or ""):
        bad = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if bad and mod != this:
            out.append(f"{where}:{line}: imports private {bad} from p2ikit.{mod}")
        if exported and this in order and mod in order and order[mod] >= order[this]:
            out.append(f"{where}:{line}: p2ikit.{this} imports p2ikit.{mod}, which comes after it")
    visitor = PrivateReaches()
    visitor.visit(tree)
    for attr, line, scopes in visitor.found:
        if exported and attr in own:
            continue                       # the module's own private name
        if attr in all_private:
            out.append(f"{where}:{line}: reads another module's private `{attr}`")
        elif not any("adapter" in s.lower() for s in scopes):
            out.append(f"{where}:{line}: reads a library's private `{attr}` outside an adapter")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=Path(__file__).resolve().parents[1], type=Path)
    root = ap.parse_args(argv).root
    findings = []
    modules = {p: p.read_text(encoding="utf-8") for p in sorted((root / "p2ikit").glob("*.py"))
               if p.name != "_modidx.py"}
    trees = {p: ast.parse(s) for p, s in modules.items()}
    private_of = {p.stem: defined_private(t) for p, t in trees.items()}
    all_private = set().union(*private_of.values()) if private_of else set()
    order = module_order(root)
    for p, src in modules.items():
        n = len(src.splitlines())
        if n > MAX_MODULE_LINES:
            findings.append(f"{p.relative_to(root)}: {n} lines (at most {MAX_MODULE_LINES})")
        findings += check_source(src, str(p.relative_to(root)), p.stem, private_of[p.stem],
                                 all_private, order, exported=True)
        for node in ast.walk(trees[p]):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("register_"):
                findings.append(f"{p.relative_to(root)}:{node.lineno}: `{node.name}`: "
                                f"register through a core `Registry` instead")
            if isinstance(node, ast.ClassDef) and node.name.endswith("Registry") \
                    and p.stem != "core":
                findings.append(f"{p.relative_to(root)}:{node.lineno}: a second registry class "
                                f"`{node.name}`; use core's `Registry`")
    for nb in sorted((root / "nbs").glob("*.ipynb")):
        module, exported, other = exported_cells(nb)
        for i, src in exported:
            n = len(src.splitlines())
            if n > MAX_CELL_LINES:
                first = next((l for l in src.splitlines()[1:] if l.strip()), "")[:60]
                findings.append(f"{nb.relative_to(root)} cell {i}: exported cell of {n} lines "
                                f"(at most {MAX_CELL_LINES}): {first}")
        for i, src in other:
            findings += check_source(src, f"{nb.relative_to(root)} cell {i}", module, set(),
                                     all_private, order, exported=False)
    for test in sorted((root / "tests").glob("*.py")):
        findings += check_source(test.read_text(encoding="utf-8"), str(test.relative_to(root)),
                                 None, set(), all_private, order, exported=False)
    for f in findings:
        print(f)
    print(f"check_layout: {len(findings)} finding(s) in {len(modules)} modules, "
          f"{len(list((root / 'nbs').glob('*.ipynb')))} notebooks")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
