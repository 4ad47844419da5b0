"""`make run`'s DR step, on the run's own lab: the replication plan's pair with both ends in the slice is built
(`jinbao dr build`: playbooks/dr/replication.yml), drilled (`jinbao dr drill --mode switchover`, the witness
writing through the client path the whole time) and failed back (`--mode failback`); both drill reports (JSON +
HTML, dr/report.py) go to `out/dr/`.

What fails the run (a JinbaoError naming the drill, the step of it that failed and its report):
- the replication build fails, or the pair is not streaming after it;
- a drill is refused or aborted, any of its steps fails (stop writes, promotion, re-pointing, rebuild, the
  witness not reaching the new primary), or it ends without figures;
- an acknowledged commit is lost where the target is none (RPO > 0 on the switchover or the failback);
- after the failback, production is not the primary with its standby streaming again.
An RTO above its target is a measured result, not a failure: the step's figures carry it as "target missed" with
the load average the drill ran under, and the summary and the index show it prominently. (The drill report keeps
`jinbao dr drill`'s own verdict: outcome `failed` with the target marked MISSED.)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from core.playbooks import LAB_VAULT_PASSWORD
from core.poll import wait_until
from dr.plan import Pair
from dr.report import DrillReport

if TYPE_CHECKING:
    from network.workspace import Workspace

Say = Callable[[str], None]
DR_DIR = "dr"  # under out/
STREAM_TIMEOUT = 90.0  # seconds a standby may take to connect after a build or a drill (slow under load)


@dataclass(frozen=True)
class DrSetup:
    """The pair the run drills and what `jinbao dr vars` gives for it: the variables both the server build
    (site.yml: the DB servers' pg_hba replication lines and host firewall for the peer and the standby port)
    and the replication build need, and the addresses replication and the witness use."""

    pair: Pair
    addresses: dict[str, str]
    variables: dict[str, Any]

    @property
    def pair_vars(self) -> dict[str, Any]:
        return next(v for v in self.variables["jb_dr_pairs"] if v["slot"] == self.pair.slot)


def pick_pair(pairs: list[Pair], sites: set[str]) -> Pair | None:
    """The first pair of the plan (its order: the inventory's sites) with both ends in `sites`."""
    return next((p for p in pairs if p.primary_site in sites and p.replica_site in sites), None)


def slice_pair(ws: Workspace, slice_name: str) -> Pair:
    """The pair `make run` drills on a lab slice, from the replication plan `jinbao dr plan` computes (on the
    run's workspace: the inventory's sites and devices and the replication policy, read once)."""
    from dr.plan import replication_plan
    from lab.slice import SLICES

    doc, path = ws.dr
    pairs = replication_plan(ws.source.inventory, doc, str(path))
    pair = pick_pair(pairs, set(SLICES[slice_name]))
    if pair is None:
        raise JinbaoError(f"no replication pair has both its database servers in the {slice_name} lab slice "
                          f"({', '.join(SLICES[slice_name])}): the DR drill needs one", file=str(path),
                          entry=f"slice {slice_name}")
    return pair


def dr_setup(ws: Workspace, lab_name: str, slice_name: str) -> DrSetup:
    """`jinbao dr vars --lab` for the drilled pair: addresses from the lab's Ansible inventory (the plugin's)."""
    from dr.access import addresses
    from dr.ansible_vars import dr_vars
    from lab.servers import running_spec, write_inventory

    pair = slice_pair(ws, slice_name)
    with tempfile.TemporaryDirectory(prefix="jinbao-run-dr-") as tmp:
        addr = addresses(write_inventory(running_spec(lab_name), Path(tmp) / "inventory"), LAB_VAULT_PASSWORD)
    return DrSetup(pair, addr, dr_vars([pair], addr, "replication plan"))


def failure(report: DrillReport) -> str | None:
    """Why a drill fails the run (pure); None when it did its job, whatever its RTO."""
    name = f"{report.kind} {report.site}"
    if report.outcome in ("refused", "aborted"):
        return f"{name} {report.outcome}: {report.reason}"
    bad = next((s for s in report.steps if s.ok is False), None)
    if bad is not None:
        return f"{name}: step '{bad.name}' failed: {' '.join(bad.detail.split())[:300]}".rstrip(": ")
    if report.figures is None:
        return f"{name}: no figures ({report.reason or report.outcome})"
    t = report.targets
    if t is not None and t.rpo_commits is not None and report.figures.rpo_commits > t.rpo_commits:
        return (f"{name}: {report.figures.rpo_commits} acknowledged commits lost (RPO target {t.rpo_commits}): "
                f"{list(report.figures.lost[:10])}")
    return None


def missed(report: DrillReport, load_1m: float) -> str | None:
    """'target missed' for an RTO above its target (pure): a measured result, said with its load average."""
    f, t = report.figures, report.targets
    if f is None or t is None or f.rto_s < t.rto_s:
        return None
    return f"{report.kind} RTO {f.rto_s:.2f} s, target < {t.rto_s:g} s (load average {load_1m:.1f})"


def _load() -> float:
    return os.getloadavg()[0]


def _build(setup: DrSetup, inventory: Path, out: Path, say: Say) -> None:
    """`jinbao dr build` on the pair's two servers: playbooks/dr/replication.yml with the plan's variables."""
    from jinbao import provision

    result = provision.run_playbook("dr-replication", inventory, limit=f"{setup.pair.primary}:{setup.pair.replica}",
                                    extra_vars=setup.variables, vault_password_file=LAB_VAULT_PASSWORD,
                                    progress=lambda m: say(f"dr build: {m}"))
    atomic_write_text(out / "replication.json", json.dumps(result.to_dict(), indent=1) + "\n")
    atomic_write_text(out / "replication-recap.txt", provision.format_recap(result) + "\n")
    if not result.ok:
        bad = [h for h, c in result.recap.items() if c["failed"] or c["unreachable"]]
        raise JinbaoError(f"dr build: playbooks/dr/replication.yml {result.status} (rc {result.rc}) on "
                          f"{', '.join(bad) or 'no host'} (out/dr/replication-recap.txt)")


def _access(setup: DrSetup, lab_name: str) -> Any:
    from dr.access import access_for, drill_password

    return access_for([setup.pair], setup.addresses, drill_password(LAB_VAULT_PASSWORD), lab_name)[0]


def _status(acc: Any) -> Any:
    from dr.status import current_status

    return current_status(acc.pair, acc.primary_dsn(), acc.replica_dsn())


def _drill(kind: str, acc: Any, setup: DrSetup, inventory: Path, say: Say) -> DrillReport:
    from dr.drill import DrillSettings, run_drill

    return run_drill(kind, acc, setup.pair_vars, DrillSettings(inventory, LAB_VAULT_PASSWORD),
                     progress=lambda m: say(f"dr {kind}: {m}"))


def _write(report: DrillReport, out: Path) -> Path:
    from dr.report import write

    return write(report, out)[1]


def _wait_streaming(acc: Any, active: str, what: str) -> None:
    """The pair streams with `active` accepting writes, within STREAM_TIMEOUT; else the run fails here."""
    last: list[Any] = []

    def streaming() -> bool:
        last[:] = [_status(acc)]
        return last[0].state == "streaming" and last[0].active == active

    if not wait_until(streaming, STREAM_TIMEOUT, 1.0):
        st = last[0] if last else None
        got = (f"{st.state}, active end {st.active or 'none'}{': ' + st.error if st.error else ''}" if st
               else "no status")
        raise JinbaoError(f"{what}: {acc.pair.primary} -> {acc.pair.replica} not streaming with the "
                          f"{'production' if active == 'primary' else 'DR centre'} end as primary after "
                          f"{STREAM_TIMEOUT:g} s ({got})")


def dr_build(setup: DrSetup, lab_name: str, out_dir: Path, say: Say) -> dict[str, Any]:
    """`jinbao dr build` for the pair, until its standby streams (the audit then checks it as `check dr`)."""
    from lab.servers import running_spec, write_inventory

    out = out_dir / DR_DIR
    out.mkdir(parents=True, exist_ok=True)
    p = setup.pair
    with tempfile.TemporaryDirectory(prefix="jinbao-run-dr-") as tmp:
        inventory = write_inventory(running_spec(lab_name), Path(tmp) / "inventory")
        say(f"dr build: {p.primary} -> {p.replica} ({p.mode})")
        _build(setup, inventory, out, say)
        _wait_streaming(_access(setup, lab_name), "primary", "dr build")
    return {"pair": f"{p.primary} -> {p.replica}", "mode": p.mode, "state": "streaming"}


def dr_drill(setup: DrSetup, lab_name: str, out_dir: Path, say: Say) -> dict[str, Any]:
    """On the pair dr_build built: switch over to the DR centre and fail back; the reports in out/dr/."""
    from lab.servers import running_spec, write_inventory

    out = out_dir / DR_DIR
    out.mkdir(parents=True, exist_ok=True)
    p = setup.pair
    figures: dict[str, Any] = {"pair": f"{p.primary} -> {p.replica}", "mode": p.mode}
    with tempfile.TemporaryDirectory(prefix="jinbao-run-dr-") as tmp:
        inventory = write_inventory(running_spec(lab_name), Path(tmp) / "inventory")
        acc = _access(setup, lab_name)
        _wait_streaming(acc, "primary", "dr drill")
        reports: dict[str, DrillReport] = {}
        loads: dict[str, float] = {}
        pages: dict[str, Path] = {}
        for kind, back_to in (("switchover", "replica"), ("failback", "primary")):
            say(f"dr {kind}: {p.primary_site}")
            before = _load()
            report = _drill(kind, acc, setup, inventory, say)
            loads[kind] = round(max(before, _load()), 1)  # the heavier of the 1-min averages at start and end
            html = pages[kind] = _write(report, out)
            reports[kind] = report
            why = failure(report)
            if why:
                raise JinbaoError(f"{why} (out/{DR_DIR}/{html.name})")
            _wait_streaming(acc, back_to, kind)
    so, fb = reports["switchover"], reports["failback"]
    if so.figures is None or so.targets is None or fb.figures is None:  # failure() refused these already
        raise JinbaoError("dr drill: a drill ended without figures")
    figures.update({
        "rto_s": so.figures.rto_s, "rto_target_s": so.targets.rto_s, "rpo_commits": so.figures.rpo_commits,
        "rpo_target_commits": so.targets.rpo_commits, "load_1m": loads["switchover"],
        "rto_met": missed(so, loads["switchover"]) is None,
        "failback": "done", "failback_rto_s": fb.figures.rto_s, "failback_rpo_commits": fb.figures.rpo_commits,
        "failback_load_1m": loads["failback"], "failback_rto_met": missed(fb, loads["failback"]) is None,
        "targets_missed": [m for k, r in reports.items() if (m := missed(r, loads[k]))],
        "report": pages["switchover"].relative_to(out_dir).as_posix(),
    })
    return figures
