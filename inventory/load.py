"""Read an inventory directory (jinbao.yaml + region table) into the expanded `Inventory`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import JinbaoError
from core.yamlio import parse_model, read_yaml
from inventory.expand import expand
from inventory.model import Inventory
from inventory.regions import load_regions
from inventory.schema import InventoryDoc

INVENTORY_FILE = "jinbao.yaml"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Loaded:
    directory: Path
    doc: InventoryDoc
    inventory: Inventory


def default_inventory_dir() -> Path:
    """`./inventory` when run from a checkout, else the inventory shipped with the package."""
    cwd = Path("inventory")
    return cwd if (cwd / INVENTORY_FILE).exists() else PACKAGE_DIR


def is_package_inventory(directory: Path) -> bool:
    """Is this the inventory shipped inside an installed package (not a checkout's `inventory/`)?"""
    if Path(directory).resolve() != PACKAGE_DIR:
        return False
    return bool({"site-packages", "dist-packages"} & set(PACKAGE_DIR.parts)) or not (
        PACKAGE_DIR.parent / "pyproject.toml").exists()


def refuse_package_write(directory: Path) -> None:
    """Records are never written into the installed package (a bare `ipplan allocate` outside a checkout
    would otherwise change the package's own files)."""
    if is_package_inventory(directory):
        raise JinbaoError("this is the inventory shipped inside the installed package; refusing to write its"
                          " records. Copy it (cp -r DIR ./inventory) and run from there or pass --inventory",
                          file=str(directory), entry="--inventory")


def check_directory(directory: Path) -> None:
    """An inventory is a directory: say so in one line when it is a file or missing."""
    if directory.is_file():
        raise JinbaoError(f"is a file; give the directory holding {INVENTORY_FILE}", file=str(directory),
                          entry="--inventory")
    if not directory.exists():
        raise JinbaoError("no such directory", file=str(directory), entry="--inventory")


def load(directory: Path) -> Loaded:
    directory = Path(directory)
    check_directory(directory)
    path = directory / INVENTORY_FILE
    doc = parse_model(InventoryDoc, read_yaml(path), path)
    regions = load_regions(directory / doc.regions.file, doc.regions.extra, str(path))
    return Loaded(directory, doc, expand(doc, regions, str(path)))
