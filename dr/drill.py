"""A drill on one pair: refuse when replication is not healthy, start the witness, run the drill's playbooks
through ansible-runner (each task becomes a report step), then compute RTO/RPO and close the report.

The witness writes through the pair's client path (``PairAccess.service_dsn``: a libpq multi-host string
with ``target_session_attrs=read-write`` until the service address of issue 13 item 5 exists).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from core import playbooks
from core.poll import wait_until
from dr import writer as witness
from dr.access import PairAccess
from dr.measure import MeasureError, figures
from dr.report import DrillReport, Step, default_targets
from dr.status import PairStatus, current_status

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK_DIR = ROOT / "playbooks" / "dr"
KINDS = ("switchover", "failover", "failback")
# (playbook, extra vars) per drill kind; failback = rebuild as a standby of the DR centre, then switch back.
PLAYBOOKS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "switchover": [("switchover.yml", {})],
    "failover": [("failover.yml", {})],
    "failback": [("rebuild.yml", {}), ("switchover.yml", {"dr_from": "replica"})],
}
# What --resume runs when a drill stopped after its promotion (state: the new end accepts writes).
RESUME = {"switchover": ("repoint.yml", {}), "failover": ("fence.yml", {}),
          "failback": ("repoint.yml", {"dr_from": "replica"})}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DrillSettings:
    inventory: Path
    vault_password_file: Path | None
    max_lag_bytes: int = 16 * 1024 * 1024
    warmup_acks: int = 20
    settle_s: float = 20.0


def refusal(kind: str, st: PairStatus, max_lag_bytes: int) -> str | None:
    """Why a drill must not start (pure); None when it may."""
    if st.state == "two-primaries":
        return "both ends accept writes (split brain): resolve it before any drill"
    if kind == "failback":
        if st.active != "replica":
            return f"failback needs the DR centre's cluster to be the primary (it is: {st.active or st.state})"
        return None
    if st.active != "primary":
        return f"the production cluster is not the primary (active end: {st.active or 'none'}, {st.state})"
    if st.state != "streaming":
        return f"replication is not streaming ({st.state}{': ' + st.error if st.error else ''})"
    if st.lag_bytes is not None and st.lag_bytes > max_lag_bytes:
        return f"the standby is {st.lag_bytes} bytes behind (threshold {max_lag_bytes})"
    return None


def resume_refusal(kind: str, st: PairStatus) -> str | None:
    """Why `--resume` must not run (pure); None when it may. A resume finishes a drill after its promotion,
    so the promoted end must be the only one accepting writes: an old primary that came back up as a primary
    (its host was unreachable when the drill wanted to fence it, then restarted) is a split brain that
    fencing or re-pointing would only hide, and one that was never promoted has nothing to finish."""
    if st.state == "two-primaries":
        return ("both ends accept writes: the old primary came back up as a primary (split brain); "
                "stop it and compare what it took before resuming")
    new = "primary" if kind == "failback" else "replica"
    if st.active != new:
        where = "production" if new == "primary" else "the DR centre's cluster"
        return f"nothing to resume: {where} is not the primary (active end: {st.active or 'none'}, {st.state})"
    return None


class _Steps:
    """ansible-runner events -> report steps: one per task that ran on some host (all-skipped tasks dropped)."""

    def __init__(self, report: DrillReport, progress: Progress | None) -> None:
        self.report, self.progress = report, progress
        self.current: Step | None = None
        self.ran = False

    def close(self) -> None:
        s = self.current
        if s is None:
            return
        if not self.ran:
            self.report.steps.remove(s)
        elif s.ended is None:
            self.report.end(s, s.ok is not False, s.detail)
        self.current, self.ran = None, False

    def __call__(self, event: dict[str, Any]) -> bool:
        kind, data = event.get("event", ""), event.get("event_data", {})
        if kind == "playbook_on_task_start":
            self.close()
            self.current = self.report.begin(str(data.get("task", "")))
            if self.progress:
                self.progress(f"task: {data.get('task', '')}")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and self.current:
            self.ran = True
            if kind != "runner_on_ok" and not data.get("ignore_errors"):
                res = data.get("res") or {}
                msg = str(res.get("msg") or res.get("stderr") or "")[:300]
                self.current.ok = False
                self.current.detail = f"{data.get('host')}: {kind.removeprefix('runner_on_')}: {msg}"
                if self.progress:
                    self.progress(self.current.detail)
        elif kind == "playbook_on_stats":
            self.close()
        return True


def run_playbook(name: str, extra: dict[str, Any], settings: DrillSettings, steps: _Steps) -> bool:
    r = playbooks.run(PLAYBOOK_DIR / name, settings.inventory, event_handler=steps, extravars=extra,
                      vault_password_file=settings.vault_password_file)
    steps.close()
    return r.rc == 0


def run_drill(kind: str, acc: PairAccess, pair_vars: dict[str, Any], settings: DrillSettings,
              progress: Progress | None = None, resume: bool = False) -> DrillReport:
    p = acc.pair
    report = DrillReport(p.primary_site, kind, p.mode, p.primary, p.replica, targets=default_targets(kind, p.mode))
    step = report.begin("pre-checks: replication state")
    st = current_status(p, acc.primary_dsn(), acc.replica_dsn())
    detail = json.dumps(st.as_dict())
    if resume:
        why = resume_refusal(kind, st)
        report.end(step, why is None, detail)
        if why:
            report.close("refused", why)
            return report
        name, extra = RESUME[kind]
        ok = run_playbook(name, {"dr_pair": pair_vars, **extra}, settings, _Steps(report, progress))
        report.close(None if ok else "failed", "resumed" if ok else f"{name} failed")
        return report
    why = refusal(kind, st, settings.max_lag_bytes)
    report.end(step, why is None, detail)
    if why:
        report.close("refused", why)
        return report
    step = report.begin("witness: first acknowledged writes through the client path")
    dsn = acc.service_dsn()
    witness.prepare(dsn)
    w = witness.Writer(dsn)
    w.start()
    ok = wait_until(lambda: len(w.acks) >= settings.warmup_acks, 15)
    report.end(step, ok, f"{len(w.acks)} acknowledged")
    if not ok:
        w.stop()
        report.close("aborted", f"the witness could not write: {w.errors[-1:] or 'no acknowledgement'}")
        return report
    old = w.acks[0].server
    steps = _Steps(report, progress)
    for name, extra in PLAYBOOKS[kind]:
        if not run_playbook(name, {"dr_pair": pair_vars, **extra}, settings, steps):
            w.stop()
            report.close("failed", f"{name} failed (see the failed step); `--resume` finishes it if the new "
                                   "primary was promoted, otherwise nothing was switched")
            return report
    step = report.begin("witness: writes acknowledged by the new primary")
    ok = wait_until(lambda: any(a.server != old for a in w.acks[-5:]) and
               sum(1 for a in w.acks if a.server != old) >= 5, settings.settle_s)
    w.stop()
    report.end(step, ok, f"{len(w.acks)} acknowledged, {len(w.errors)} errors")
    new = next((a.server for a in reversed(w.acks) if a.server != old), "")
    try:
        report.figures = figures(w.acks, old, new, witness.survivors(dsn))
    except (MeasureError, psycopg.Error) as e:  # the figures are the drill's result: say why there are none
        report.close("failed", f"no figures: {e}")
        return report
    missed = [k for k, ok in report.verdicts().items() if not ok]
    t, f = report.targets, report.figures
    report.close(None, "; ".join(
        f"RTO {f.rto_s} s, target < {t.rto_s} s" if k == "rto" else f"RPO {f.rpo_commits} commits, target "
        f"{t.rpo_commits}" for k in missed) if t else "")
    return report
