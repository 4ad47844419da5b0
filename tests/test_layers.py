"""The layering rule (docs/architecture.md) is enforced: no module imports a higher layer or a peer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.layers import LAYERS, PACKAGES, scan, violations


def test_no_import_points_up_or_sideways() -> None:
    bad = violations(ROOT)
    assert not bad, "imports against the layering rule:\n" + "\n".join(map(str, bad))


def test_every_package_has_a_layer() -> None:
    """A new top-level Python package must be placed in the rule, or it would escape the check."""
    skip = {"tests", "bench", "tools", "scripts", "docs", "playbooks", "roles", "out", "backups"}
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - skip
    assert on_disk <= set(PACKAGES), f"not in tools/layers.py LAYERS: {sorted(on_disk - set(PACKAGES))}"


def test_the_scan_sees_the_known_edges() -> None:
    """The scanner is not blind: edges that exist today are found (lazy imports inside functions too)."""
    edges = {(i.source, i.target) for i in scan(ROOT)}
    assert {("network", "ipplan"), ("ipplan", "inventory"), ("lab", "network"), ("jinbao", "lab")} <= edges
    assert ("jinbao", "lab") in {(i.source, i.target) for i in scan(ROOT) if i.file == "jinbao/commands/lab.py"}


def _copy(tmp: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("*.tsv", "*.csv", "__pycache__",
                                                                               "templates", ".cache"))
    return tmp


@pytest.mark.parametrize(("file", "line", "expect"), [
    ("inventory/model.py", "from jinbao.cli import app", "inventory imports jinbao.cli"),  # upward
    ("core/errors.py", "import inventory.model", "core imports inventory.model"),
    ("network/plan.py", "    from lab import names", "network imports lab"),  # lazy, indented
    ("lab/names.py", "from dr import x", "lab imports dr"),  # peers
    ("ipplan/addr.py", "from ..network import plan", "ipplan imports network"),  # relative
])
def test_a_planted_bad_import_fails_the_check(tmp_path: Path, file: str, line: str, expect: str) -> None:
    """The checker can fail: plant one bad import in a copy of the tree, and it is reported with its place."""
    root = _copy(tmp_path)
    assert not violations(root)
    target = root / file
    text = target.read_text()
    if line.startswith(" "):  # inside a function
        text += f"\n\ndef _planted() -> None:\n{line}\n"
    else:
        text += f"\n{line}\n"
    target.write_text(text)
    bad = violations(root)
    assert [str(b).split(": ", 1)[1] for b in bad] == [expect]
    assert bad[0].file == file and bad[0].line == text.count("\n")


def test_layers_are_distinct() -> None:
    assert len(PACKAGES) == len(set(PACKAGES)) == sum(len(layer) for layer in LAYERS)


def test_committed_picture_matches_the_code() -> None:
    from tools.depgraph import stale

    assert not stale(), "run `python -m tools.depgraph` and commit docs/architecture-imports.*"


def test_picture_changes_when_an_edge_appears(tmp_path: Path) -> None:
    """The staleness check can fail: a new package dependency changes the dot text."""
    from tools.depgraph import dot_text

    root = _copy(tmp_path)
    assert dot_text(root) == dot_text(ROOT)
    (root / "dr" / "__init__.py").write_text('"""x"""\nfrom plugins import hostvars\n')  # an edge not there yet
    assert "dr -> plugins;" in dot_text(root) and dot_text(root) != dot_text(ROOT)


# Entry points are imports the AST scan cannot see: a module that asks a library for a plugin by its registered
# name (pyproject.toml [project.entry-points]) depends at run time on the module behind that name. Each such
# reference to a higher layer is listed here, on purpose, with the reason it is allowed.
ALLOWED_ENTRY_POINT_REFS = {
    # deploy, backup and drift build their Nornir through the Nornir inventory plugin, so deploy tasks see the
    # same hosts, groups and data as anyone's Nornir script; plugins/ sits above network/ (docs/architecture.md)
    ("network/deploy/runner.py", "JinbaoInventory", "plugins"),
}


def _entry_points() -> dict[str, str]:
    """Registered name -> package of the module behind it."""
    import tomllib

    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    return {name: target.split(":")[0].split(".")[0] for group in groups.values() for name, target in group.items()}


def entry_point_refs(root: Path, names: dict[str, str]) -> set[tuple[str, str, str]]:
    """(file, name, package) for every string literal in the layered packages that is an entry-point name
    whose module lies in a higher layer or a peer."""
    import ast

    from tools.layers import RANK

    found = set()
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    target = names[node.value]
                    if target != pkg and RANK[target] >= RANK[pkg]:
                        found.add((path.relative_to(root).as_posix(), node.value, target))
    return found


def test_entry_point_names_pointing_up_are_the_known_ones() -> None:
    """A runtime upward dependency by plugin name is allowed only where listed (and the known one is seen)."""
    refs = entry_point_refs(ROOT, _entry_points())
    assert refs == ALLOWED_ENTRY_POINT_REFS, f"entry-point names referring to a higher layer: {sorted(refs)}"


def test_a_planted_entry_point_name_is_found(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "ipplan" / "planted.py").write_text('PLUGIN = {"plugin": "JinbaoInventory"}\n')
    assert ("ipplan/planted.py", "JinbaoInventory", "plugins") in entry_point_refs(root, _entry_points())
