"""NAPALM drivers the project provides (FRR has none upstream).

NAPALM 5.2's ``get_network_driver(name)`` only imports ``custom_napalm.<name>``, ``napalm.<name>`` or
``napalm_<name>`` (dotted paths outside those two namespaces are refused), and nornir-napalm passes the
host's platform straight to it. ``register()`` therefore makes this package's FRR driver importable as
``custom_napalm.frr`` - the site-local namespace NAPALM searches first - so ``platform="frr"`` works in
NAPALM and nornir-napalm in this process without installing anything. The deploy runner calls it before it
connects (network.deploy.runner.build_nornir).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

__all__ = ["FrrDriver", "register"]


def __getattr__(name: str) -> Any:
    """`FrrDriver` on first use: the driver imports napalm (seconds), which commands that only read the plan
    (and the Ansible inventory plugin, run by every playbook) never need."""
    if name == "FrrDriver":
        from network.drivers.frr import FrrDriver

        return FrrDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# platform name -> module that holds the driver
DRIVERS = {"frr": "network.drivers.frr"}


def register() -> None:
    """Make ``napalm.get_network_driver("frr")`` (and nornir-napalm's ``platform="frr"``) find FrrDriver.

    Idempotent. If a real ``custom_napalm`` package is installed it is left alone and only the missing
    ``custom_napalm.<platform>`` submodules are added to it.
    """
    parent = sys.modules.get("custom_napalm")
    if parent is None:
        if importlib.util.find_spec("custom_napalm") is not None:
            parent = importlib.import_module("custom_napalm")
        else:
            parent = types.ModuleType("custom_napalm")
            parent.__path__ = []  # a package, so "custom_napalm.frr" is a valid module name
            parent.__doc__ = "Site-local NAPALM drivers registered by network.drivers.register()."
            sys.modules["custom_napalm"] = parent
    for platform, module_name in DRIVERS.items():
        name = f"custom_napalm.{platform}"
        if name not in sys.modules:
            module = importlib.import_module(module_name)
            sys.modules[name] = module
            setattr(parent, platform, module)
