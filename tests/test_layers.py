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
    (root / "dr" / "__init__.py").write_text('"""x"""\nfrom network import plan\n')
    assert "dr -> network;" in dot_text(root) and dot_text(root) != dot_text(ROOT)
