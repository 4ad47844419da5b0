"""One exception root: every exception class of the project's packages derives from core.errors.JinbaoError
(what the CLI prints as one line, exit 2), except the few listed here with the reason they cannot."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

from core.errors import JinbaoError
from tools.layers import PACKAGES

ROOT = Path(__file__).resolve().parent.parent
# module.Class -> why it is not a JinbaoError
NOT_ERRORS = {
    "network.ferry.verify.Verdict": "a batch's quarantine verdict, the gate's outcome rather than a failure",
    "lab.node_init.Shutdown": "a signal to the node's init loop to stop (the init runs inside the lab node)",
    "network.policy.vendor.Error": "Aerleon's plugin contract: a generator raises aclgenerator.Error "
                                   "(network.policy.generate turns it into a JinbaoError)",
    "network.drivers.frr.PendingCommitError": "NAPALM's driver contract: a CommitError (the deploy engine "
                                              "reports it per device)",
    "core.playbooks.Interrupted": "SIGTERM/SIGHUP as a KeyboardInterrupt: an operator's stop, not an error, "
                                  "unwinding past every `except Exception` so each cleanup runs",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every top-level class of the layered packages that is an exception, by dotted name."""
    found: dict[str, type[BaseException]] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.bases]
            if not names:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            bases = {ast.unparse(b).split(".")[-1] for n in tree.body if isinstance(n, ast.ClassDef) for b in n.bases}
            if not any(b.endswith(("Error", "Exception", "Exhausted", "Unavailable", "Failed"))
                       or isinstance(getattr(builtins, b, None), type) for b in bases):
                continue  # no class here could be an exception: spare the import
            mod = importlib.import_module(module)
            for name in names:
                cls = getattr(mod, name)
                if isinstance(cls, type) and issubclass(cls, BaseException):
                    found[f"{module}.{name}"] = cls
    return found


def test_every_exception_derives_from_the_one_root() -> None:
    classes = _exception_classes()
    # not blind: it sees the errors of every package that has one, and the exceptions that are not errors
    assert {"vsphere.provision.VcenterError", "network.ferry.outbox.OutboxError", "network.ferry.sender.SendError",
            "lab.sh.LabError", "dr.measure.MeasureError", "checks.snmp_probe.BerError"} <= classes.keys()
    assert NOT_ERRORS.keys() <= classes.keys()
    stray = sorted(n for n, c in classes.items() if not issubclass(c, JinbaoError) and n not in NOT_ERRORS)
    assert stray == []
    assert not any(issubclass(classes[n], JinbaoError) for n in NOT_ERRORS)  # the list holds no stale entry


def test_a_ferry_error_keeps_its_one_line_and_its_value_error_base() -> None:
    from network.ferry.load import LoadError
    from network.ferry.sender import SendError

    e = LoadError("a.csv:3: 2 fields, the header has 3")
    assert str(e) == "a.csv:3: 2 fields, the header has 3" and isinstance(e, ValueError)
    assert str(SendError("--rate must be > 0")) == "--rate must be > 0"
