"""The layering rule, as data, and the import scan that checks it (tests/test_layers.py, tools/depgraph.py).

Bottom to top; a module may import its own package and the packages of lower layers, never a higher one
and never a peer of its own layer. See docs/architecture.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# each entry is one layer; packages in the same layer are peers and may not import each other
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("inventory",),
    ("ipplan",),
    ("network",),
    ("lab",),  # the emulated network: what checks and drills run against when there is no real one
    ("plugins",),  # the source of truth as Ansible, Nornir and vSphere see it (the lab's slice too)
    ("dr", "checks", "vsphere"),
    ("jinbao",),
)
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
PACKAGES = tuple(RANK)


@dataclass(frozen=True)
class Import:
    file: str  # relative to the root, e.g. "network/plan.py"
    line: int
    source: str  # the importing package
    target: str  # the imported package
    module: str  # the imported module, dotted

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source} imports {self.module}"


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_pkg: bool) -> list[str]:
    """Dotted names a node imports, relative imports resolved against `module`."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base if is_pkg else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            name = ".".join([*base, *([node.module] if node.module else [])])
        else:
            name = node.module or ""
        # `from pkg import mod` imports pkg.mod when mod is a module; the package is what the rule needs
        return [name]
    return []


def scan(root: Path) -> list[Import]:
    """Every import between the layered packages under `root` (function-level and TYPE_CHECKING ones too:
    a lazy import is still a dependency)."""
    found: list[Import] = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            module = _module_name(rel)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                for name in _imported(node, module, path.name == "__init__.py"):
                    target = name.split(".")[0]
                    if target in RANK and target != pkg:
                        found.append(Import(rel.as_posix(), node.lineno, pkg, target, name))
    return found


def violations(root: Path) -> list[Import]:
    """Imports that point up a layer, or sideways to a peer."""
    return [i for i in scan(root) if RANK[i.target] >= RANK[i.source]]


def package_edges(root: Path) -> dict[tuple[str, str], int]:
    """(importer, imported) -> number of import statements, between packages."""
    edges: dict[tuple[str, str], int] = {}
    for i in scan(root):
        edges[(i.source, i.target)] = edges.get((i.source, i.target), 0) + 1
    return edges
