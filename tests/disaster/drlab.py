"""The one DR lab every DR integration test and the benchmark share: `jbdr` (100.126.239.0/24), the
production database servers of the ministry's data centre (100000-DC) and of the national DR centre
(100000-DR) as bare hosts, built by `playbooks/databases.yml` and then `playbooks/dr/replication.yml`.

The replication plan is the real one (dr/plan.py) over the inventory with DR lines of their own added
(the default inventory gets them on another branch, issue 9), restricted to the lab's primary.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dr.config import load_dr_config
from dr.plan import Pair, has_own_lines, replication_plan
from inventory.load import load
from inventory.model import Inventory, Link
from lab import runtime
from lab.servers import running_spec, write_inventory
from lab.servers import up as servers_up

ROOT = Path(__file__).resolve().parent.parent.parent
INVENTORY = ROOT / "inventory"
LAB = "jbdr"
MGMT_NET = "100.126.239.0/24"
SITES = ("100000-DC", "100000-DR")
PRIMARY_SITE = "100000-DC"


def with_dr_lines(inv: Inventory) -> Inventory:
    """Give every DR centre a line to the ministry's WAN router if it lacks one of its own."""
    wr = {d.site: d.hostname for d in sorted(inv.devices, key=lambda d: -d.index) if d.role == "WR"}
    extra = tuple(Link(wr["100000-DC"] if s.id != "100000-DR" else wr["110000-DC"], wr[s.id], "backup",
                       "100000-DC" if s.id != "100000-DR" else "110000-DC", s.id)
                  for s in inv.sites if s.kind == "dr" and not has_own_lines(inv, s))
    return dataclasses.replace(inv, links=inv.links + extra, _site_index={})


def lab_pairs(mode: str) -> list[Pair]:
    inv = with_dr_lines(load(INVENTORY).inventory)
    pairs = [p for p in replication_plan(inv, load_dr_config(INVENTORY)[0]) if p.primary_site == PRIMARY_SITE]
    return [dataclasses.replace(p, mode=mode) for p in pairs]


def write_plan(pairs: list[Pair], dest: Path) -> Path:
    dest.write_text(json.dumps({"pairs": [p.as_dict() for p in pairs]}, indent=1) + "\n")
    return dest


def up(workdir: Path) -> Path:
    """Bring the lab up (replacing a leftover one) and return its Ansible inventory."""
    runtime.down(LAB)
    servers_up(INVENTORY, "minimal", LAB, MGMT_NET, SITES)
    return write_inventory(running_spec(LAB), workdir / "inventory")


def jinbao(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jinbao.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def build_databases() -> subprocess.CompletedProcess[str]:
    return jinbao("servers", "build", "--lab", LAB, "--playbook", "databases", "--json")


@contextmanager
def built_lab(work: Path) -> Iterator[dict[str, Path]]:
    """The lab as a real deployment has it: the database servers' baseline (with the replication plan's
    variables, as the source-of-truth inventory gives them: the host firewall admits the replication peers),
    then the replicated PostgreSQL (`jinbao dr build`, the async plan). One build for the compliance checks
    and the drills (tests/conftest.py `dr_lab`, a session fixture): the checks run first, on the healthy pair,
    the drills after them; the lab lock is held throughout and nothing is left at the end."""
    from core.playbooks import LAB_VAULT_PASSWORD
    from jinbao import provision
    from tests.lab.conftest import lab_objects, leftovers, snapshot
    from tests.lablock import lab_lock

    plans = {m: write_plan(lab_pairs(m), work / f"plan-{m}.json") for m in ("async", "sync")}
    with lab_lock():
        before = snapshot()
        try:
            t0 = time.monotonic()
            inventory = up(work)
            r = jinbao("dr", "vars", "--lab", LAB, "--plan", str(plans["async"]), "--out", str(work / "dr.json"))
            assert r.returncode == 0, r.stderr[-2000:]
            # the database servers only (the lab's EX/DS hosts stay bare)
            base = provision.run_playbook("servers", inventory, limit="role_db",
                                          extra_vars=json.loads((work / "dr.json").read_text()),
                                          vault_password_file=LAB_VAULT_PASSWORD)
            assert base.ok, base.to_dict()
            r = jinbao("dr", "build", "--lab", LAB, "--plan", str(plans["async"]))
            assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])  # stderr: progress and failures
            print(f"{LAB} up, baseline and replicated databases built in {time.monotonic() - t0:.0f} s")
            yield {"work": work, "plan": plans["async"], **plans, "inventory": inventory}
        finally:
            recorded = lab_objects(LAB)
            runtime.down(LAB)
        assert leftovers(LAB, before, recorded) == {}
