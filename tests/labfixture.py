"""A deployed lab slice for a test package: `jinbao lab up` + `jinbao deploy`, then `lab down` leaving nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from lab import runtime
from lab.slice import LabPlan, build_lab
from tests.conftest import INVENTORY, jinbao
from tests.lab.conftest import lab_objects, leftovers, snapshot
from tests.lablock import lab_lock


@contextmanager
def deployed_lab(lab: str, mgmt_net: str, slice_name: str, *deploy_args: str,
                 production_bfd: bool = False) -> Iterator[LabPlan]:
    with lab_lock():
        runtime.down(lab)  # whatever an aborted run left
        before = snapshot()
        lp = build_lab(INVENTORY, slice_name, lab, mgmt_net, production_bfd)
        r = jinbao("lab", "up", "--name", lab, "--mgmt-net", mgmt_net, "--slice", slice_name, "--json",
                   *(["--production-bfd"] if production_bfd else []))
        assert r.returncode == 0, r.stderr
        try:
            r = jinbao("deploy", "--lab", lab, "--confirm", "90", *deploy_args, "--json")
            bad = [d for d in json.loads(r.stdout)["devices"] if d["status"] != "committed"]
            assert r.returncode == 0 and not bad, (bad[:2], r.stderr[-2000:])
            yield lp
        finally:
            recorded = lab_objects(lab)
            r = jinbao("lab", "down", "--name", lab)
        # `lab down` leaves nothing: namespaces, veths, bridges, mounts, processes, state
        assert r.returncode == 0, r.stderr
        assert leftovers(lab, before, recorded) == {}
