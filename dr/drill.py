"""A drill on one pair: refuse when replication is not healthy, start the witness, run the drill's playbooks
through ansible-runner (each task becomes a report step), then compute RTO/RPO and close the report.

The witness writes through the pair's client path (``PairAccess.service_dsn``): the service address when the
drill is given a network to move it on (``DrillSettings.network``: a lab with routers, or the real WAN
routers and firewalls), the libpq multi-host string otherwise. With a network, the address moves with the
database (dr/announce.py's phases through the deploy path, dr/network.py): withdrawn at the old site just
before the playbook that promotes, announced at the new site after it; a run that stops before the
promotion announces it at the old site again. Each phase is a step of the report, so the RTO includes BGP
convergence. After a promotion the drill records where the database runs (``inventory/dr-active.yaml`` of
``DrillSettings.record_dir``), so a later render or deploy plans the address there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from core import playbooks
from core.errors import JinbaoError
from core.poll import wait_until
from dr import writer as witness
from dr.access import PairAccess
from dr.measure import MeasureError, figures
from dr.plan import Pair
from dr.report import DrillReport, Step, default_targets
from dr.status import PairStatus, current_status

if TYPE_CHECKING:
    from dr.network import ServiceNetwork
    from network.plan import PlanInput

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
# The playbook of each drill that promotes (index into PLAYBOOKS): the service address is withdrawn right
# before it (after the pre-checks; a failback's rebuild first, so clients wait for the switchover only) and
# announced after it.
PROMOTES = {"switchover": 0, "failover": 0, "failback": 1}
# Inside the promoting playbook (docs/dr.md "RTO"): the withdrawal starts when this play starts (its pre-checks
# passed) and runs beside it; the playbook's gate task (`dr_gate`) holds the promotion (a failover: the kill)
# until the withdrawal is committed. The announcement starts once this task of tasks/promote.yml is ok on the
# new primary (it accepts writes), beside the rest of the playbook (re-pointing or fencing the old primary).
START_PLAYS = {"switchover": "Switchover", "failover": "Disaster", "failback": "Switchover"}
# A failover's withdrawal starts once the kill has run (its task ok, or skipped with dr_kill=false), not when its
# play starts: withdrawn beside the kill, the address could be gone before the primary died, the witness's writes
# stopped by the network instead of the disaster, and an asynchronous failover would look lossless.
START_TASKS = {"failover": "Kill the primary hard"}
PROMOTED_TASK = "It accepts writes"
GATE_MARGIN_S = 5.0  # of the gate's wait, kept for a phase's result to reach the gate file and the playbook
GATE_TIMEOUT_RANGE = (10, 1800)  # --gate-timeout, seconds: below, no deploy commits in time; above, a hung drill
NETWORK_SETTLE_S = 90.0  # the witness's wait for the new primary when the address moves (BGP convergence)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DrillSettings:
    inventory: Path
    vault_password_file: Path | None
    max_lag_bytes: int = 16 * 1024 * 1024
    warmup_acks: int = 20
    settle_s: float = 20.0
    network: ServiceNetwork | None = None  # move the service address there; None: it is not moved
    no_network: str = "the drill was given no network"  # why not, for the report
    record_dir: Path | None = None  # write dr-active.yaml there after a promotion; None: not recorded
    no_record: str = "no inventory directory to record it in"  # why not, for the report
    gate_timeout: int | None = None  # seconds the gate waits (dr_gate_timeout); None: the playbooks' (ends.yml)


def playbook_gate_timeout() -> int:
    """The playbooks' own gate timeout (`dr_gate_timeout` of playbooks/dr/vars/ends.yml)."""
    import yaml

    return int(yaml.safe_load((PLAYBOOK_DIR / "vars" / "ends.yml").read_text())["dr_gate_timeout"])


def gate_timeout_refusal(seconds: int) -> str | None:
    """Why `--gate-timeout` cannot be used (pure); None when it can."""
    lo, hi = GATE_TIMEOUT_RANGE
    if not lo <= seconds <= hi:
        return (f"{seconds}: between {lo} and {hi} seconds (the gate holds the promotion while the "
                "old site's devices commit the withdrawal)")
    return None


def run_dir() -> str | None:
    """Where the drill's gate file lives: the user's run directory (XDG_RUNTIME_DIR: private to the user, on
    tmpfs, gone at logout, never cleaned under a running drill), else the temporary directory (None)."""
    d = os.environ.get("XDG_RUNTIME_DIR")
    return d if d and os.path.isdir(d) and os.access(d, os.W_OK) else None


def move_sites(kind: str, pair: Pair) -> tuple[str, str]:
    """(from, to): the site running the database before the drill's promotion and after it (pure)."""
    if kind == "failback":
        return pair.replica_site, pair.primary_site
    return pair.primary_site, pair.replica_site


def promoted(kind: str, st: PairStatus) -> bool | None:
    """Did the drill's promotion happen, judged from the pair's state after the run stopped (pure)? None:
    the state cannot tell (no end answers). Two writable ends: the new one was promoted, the old one not
    yet fenced (a failover that could not reach it); the address follows the promoted one."""
    if st.state == "two-primaries":
        return True
    if st.active is None:
        return None
    return st.active == ("primary" if kind == "failback" else "replica")


def announce_after_stop(kind: str, pair: Pair, st: PairStatus) -> str | None:
    """Where the service address goes when a run stops after its withdrawal (pure): the new site when the
    promotion happened, the old one when it did not, nowhere (None) when the state cannot tell: announcing
    it at a site whose database may not accept writes, or at both, is worse than clients waiting."""
    done = promoted(kind, st)
    if done is None:
        return None
    old, new = move_sites(kind, pair)
    return new if done else old


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
            self.report.discard(s)
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


class _Events:
    """One playbook's events to the report's steps and, for the promoting playbook, to the address's phases."""

    def __init__(self, steps: _Steps, switch: _Switch | None = None) -> None:
        self.steps, self.switch, self.report = steps, switch, steps.report

    def __call__(self, event: dict[str, Any]) -> bool:
        self.steps(event)
        if self.switch is not None:
            self.switch(event)
        return True

    def close(self) -> None:
        self.steps.close()


def run_playbook(name: str, extra: dict[str, Any], settings: DrillSettings, steps: _Events) -> bool:
    r = playbooks.run(PLAYBOOK_DIR / name, settings.inventory, event_handler=steps, extravars=extra,
                      vault_password_file=settings.vault_password_file)
    steps.close()
    return r.rc == 0


class _Address:
    """The service address and the state record during one run: what moved, as report steps."""

    def __init__(self, report: DrillReport, pair: Pair, kind: str, settings: DrillSettings,
                 progress: Progress | None) -> None:
        self.report, self.pair, self.kind, self.settings, self.progress = report, pair, kind, settings, progress
        self.net = settings.network
        self.state: PlanInput | None = self.net.plan if self.net else None
        self.withdrawn = False
        self.notes: list[str] = []
        # both phases rendered before the witness starts (prepare): only their deploys fall in the outage window
        self._withdrawal: tuple[PlanInput, tuple[Any] | None] | None = None
        self._announcement: tuple[Any] | None = None
        # rendered, not yet staged (a failback stages after its rebuild): (middle, withdraw, announce, old, new)
        self._rendered: tuple[PlanInput, Any, Any, str, str] | None = None
        if self.net is None:
            self.notes.append(f"not moved ({settings.no_network}); the witness used the multi-host string")

    def record(self, site: str) -> None:
        """The state record: the database now runs at `site` (its primary's: the entry goes)."""
        d = self.settings.record_dir
        if d is None:
            self.notes.append(f"dr-active.yaml not written ({self.settings.no_record})")
            return
        from inventory.drpolicy import record_active

        step = self.report.begin(f"record: {self.pair.primary_site}'s database runs at {site} (dr-active.yaml)")
        try:
            path = record_active(d, self.pair.primary_site, site)
        except OSError as e:
            self.report.end(step, False, str(e))
            return
        self.report.end(step, True, str(path))
        self.notes.append(f"recorded in {path}" if site != self.pair.primary_site else f"entry removed from {path}")

    def _phase(self, name: str, target: PlanInput, sites: tuple[str, ...], hosts: set[str] | None,
               staged: tuple[Any] | None = None, step: Step | None = None) -> bool:
        """One phase through the deploy path: `staged` (connected and diffed by prepare) commits alone."""
        assert self.net is not None
        step = step or self.report.begin(name)
        try:
            if staged is not None:
                # a device whose session dropped is reconnected inside what is left of the window the gate waits
                # (short attempts), never for minutes: past it the promotion is refused anyway
                ok, detail = self.net.push_staged(staged[0], deadline=time.monotonic() + self.window_s())
            else:
                ok, detail = self.net.push(target, sites, hosts, self._message(name), self.progress)
        except Exception as e:  # a phase that cannot run is a failed step, never a crash between phases
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.report.end(step, ok, detail)
        if self.progress:
            self.progress(f"{name}: {'ok' if ok else 'FAILED'}")
        return ok

    def window_s(self) -> float:
        """Seconds a phase's commit may take: the gate's wait (--gate-timeout, else the playbooks'), less the
        margin for its result to reach the gate."""
        wait = self.settings.gate_timeout if self.settings.gate_timeout is not None else playbook_gate_timeout()
        return max(1.0, wait - GATE_MARGIN_S)

    def _message(self, name: str) -> str:
        return f"jinbao dr drill {self.kind} {self.pair.primary_site}: {name}"

    def prepare(self, stage: bool = True) -> None:
        """Both phases rendered and validated (the old site's devices without the address, the new site's with
        it), and with `stage` their devices connected and diffed (`stage`), while writes still flow: the outage
        window holds their commits (and post-checks) alone. `close` lets go of what was not used."""
        if self.net is None or self.state is None:
            return
        # imported now, not by the first phase: nornir, and napalm for the drivers, take seconds to import
        import network.deploy
        import network.drivers.frr  # noqa: F401
        from dr.announce import NOWHERE, with_active
        from dr.network import active_site

        old, new = move_sites(self.kind, self.pair)
        if active_site(self.state, self.pair.primary_site) != old:
            # the record disagrees with the databases (the pre-checks found it running at `old`): they win
            self.notes.append(f"dr-active.yaml did not say {old}; planned from the databases' state")
            self.state = with_active(self.state, self.pair.primary_site, old)
        move = self.net.move(self.state, self.pair.primary_site, new)
        middle = with_active(self.state, self.pair.primary_site, NOWHERE)
        withdraw = self.net.prepare(middle, (old,), {c.host for c in move.withdraw})
        announce = self.net.prepare(with_active(self.state, self.pair.primary_site, new), (new,),
                                    {c.host for c in move.announce})
        self._rendered = (middle, withdraw, announce, old, new)
        if stage:
            self.stage()

    def stage(self) -> None:
        """The rendered phases' devices connected and diffed (just before the promoting playbook: sessions
        left idle across a failback's rebuild may drop; a staged deploy reconnects then, but costs the window)."""
        if self.net is None or self._rendered is None:
            return
        middle, withdraw, announce, old, new = self._rendered
        self._rendered = None
        self._withdrawal = (middle, (self.net.stage(withdraw, self._message(f"service address: withdraw at {old}"),
                                                    self.progress),))
        self._announcement = (self.net.stage(announce, self._message(f"service address: announce at {new}"),
                                             self.progress, must_change=True),)

    def release(self) -> None:
        """Close the connections of a staged phase that was not used (nothing is changed)."""
        for staged in (self._withdrawal[1] if self._withdrawal else None, self._announcement):
            if staged is not None and hasattr(staged[0], "close"):
                staged[0].close()
        self._announcement = None

    def begin_withdraw(self) -> Step | None:
        """The withdrawal's step, begun now (the timeline shows when it was asked for); None: nothing moves."""
        if self.net is None or self.state is None:
            return None
        old, _ = move_sites(self.kind, self.pair)
        return self.report.begin(f"service address: withdraw at {old}")

    def withdraw(self, step: Step | None = None) -> bool:
        """Phase 1 at the old site; on failure it is announced there again (clients keep their database)."""
        if self.net is None or self.state is None:
            return True
        if self._withdrawal is None:
            self.prepare() if self._rendered is None else self.stage()
        assert self._withdrawal is not None
        old, _ = move_sites(self.kind, self.pair)
        self.state, self.withdrawn = self._withdrawal[0], True
        staged, self._withdrawal = self._withdrawal[1], (self._withdrawal[0], None)  # committed once at most
        if self._phase(f"service address: withdraw at {old}", self.state, (old,), None, staged, step):
            self.notes.append(f"withdrawn at {old}")
            return True
        # whichever of its devices did withdraw; if this fails too, clients may have no route at all
        self.announce(old, "again")
        return False

    def recovery(self, site: str, done: bool) -> str:
        """How an operator announces the address at `site` after the drill could not (what to run)."""
        if done:  # the record says `site`: a resume finishes the playbooks and deploys both sites as planned
            return (f"`jinbao dr drill --site {self.pair.primary_site} --mode {self.kind} --resume` (the same "
                    f"--lab or --real-network) deploys it")
        # nothing was promoted and the record still says `site`: a deploy of its devices plans the address there
        return (f"`jinbao deploy --scope {site}` (with `--lab` in a lab) deploys its WAN routers and firewalls "
                f"with the address announced")

    def outage(self, site: str, done: bool) -> str:
        """The report's words when announcing at `site` failed after the withdrawal."""
        return (f"announcing it at {site} failed too: the address may be withdrawn everywhere, its clients "
                f"without a database (an outage): {self.recovery(site, done)}")

    def announce(self, site: str, why: str = "") -> bool:
        """Phase 2: the address announced at `site` (after the promotion, or at the old site again)."""
        if self.net is None or self.state is None or not self.withdrawn:
            return True
        from dr.announce import with_active

        after = with_active(self.state, self.pair.primary_site, site)
        move = self.net.move(self.state, self.pair.primary_site, site)
        _, new = move_sites(self.kind, self.pair)
        staged = None
        if site == new:  # staged by prepare for this very change; committed once at most
            staged, self._announcement = self._announcement, None
        ok = self._phase(f"service address: announce at {site}{' ' + why if why else ''}", after, (site,),
                         {c.host for c in move.announce}, staged)
        if ok:
            self.state, self.withdrawn = after, False
            self.notes.append(f"announced at {site}{' ' + why if why else ''}")
        else:
            self.notes.append(f"announcing at {site}{' ' + why if why else ''} FAILED: possibly withdrawn everywhere")
        return ok

    def settle(self, site: str) -> bool:
        """After a resume: both sites' devices as planned with the database at `site` (whatever a stopped run
        left: an address withdrawn everywhere, or still at the old site), unchanged devices untouched."""
        if self.net is None or self.state is None:
            return True
        from dr.announce import with_active

        after = with_active(self.state, self.pair.primary_site, site)
        ok = self._phase(f"service address: announced at {site} alone (both sites as planned)", after,
                         (self.pair.primary_site, self.pair.replica_site), None)
        if ok:
            self.state = after
            self.notes.append(f"announced at {site} alone")
        return ok

    def after_stop(self, acc: PairAccess) -> str:
        """A playbook failed: record and announce where the database is now; the reason's tail."""
        st = current_status(self.pair, acc.primary_dsn(), acc.replica_dsn())
        _, new = move_sites(self.kind, self.pair)
        done = promoted(self.kind, st)
        if done:
            self.record(new)
        if not self.withdrawn:
            return ""
        at = announce_after_stop(self.kind, self.pair, st)
        if at is None:
            self.notes.append(f"left withdrawn: neither end answers ({st.state})")
            return "; the service address is withdrawn everywhere (neither end answers): announce it by hand"
        if self.announce(at, "" if at == new else "again (nothing was promoted)"):
            return ""
        return f"; {self.outage(at, at == new)}"

    def close(self) -> None:
        self.release()
        where = f" ({self.net.where}; witness from {self.net.client})" if self.net else ""
        self.report.service_address = "; ".join(self.notes) + where


class _Switch:
    """The address's phases inside the promoting playbook, driven by its events (docs/dr.md, "RTO").

    When the play that changes things starts (its pre-checks passed; a failover: once the kill has run), the
    withdrawal at the old site starts in a thread beside it; a task that fails before then shuts the gate. The
    playbook's gate task waits for `gate` (``withdrawn`` or ``failed``) before it promotes (a switchover: after
    stopping writes and the catch-up; a failover: after the kill), so the new primary never
    takes writes while the old site still announces the address. Once the new primary accepts writes
    (`PROMOTED_TASK` ok), the record and the announcement at the new site start in a thread beside the rest of the
    playbook, and only after the withdrawal's deploy has come back committed: whatever the events say, the
    address is never announced by two sites at once."""

    def __init__(self, address: _Address, kind: str, gate: Path) -> None:
        self.address, self.kind, self.gate = address, kind, gate
        self.withdrawing: threading.Thread | None = None
        self.announcing: threading.Thread | None = None
        self.withdrawn_ok: bool | None = None  # None: not tried (yet)
        self.announced_ok: bool | None = None

    def starts(self, kind: str, data: dict[str, Any]) -> bool:
        """Whether this event starts the withdrawal: the play that changes things starts (its pre-checks passed),
        or for a failover the kill has run (START_TASKS)."""
        task = START_TASKS.get(self.kind)
        if task is None:
            return kind == "playbook_on_play_start" and data.get("play") == START_PLAYS[self.kind]
        return kind in ("runner_on_ok", "runner_on_skipped") and str(data.get("task", "")).startswith(task)

    def __call__(self, event: dict[str, Any]) -> None:
        kind, data = event.get("event", ""), event.get("event_data", {})
        if self.withdrawing is None and self.withdrawn_ok is None:
            if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                # before the withdrawal was asked for (the pre-checks; a failover's kill): nothing moves, and the
                # gate shuts now, so a promotion can never run on it
                self.withdrawn_ok = False
                self._open_gate(False)
            elif self.starts(kind, data):
                step = self.address.begin_withdraw()  # begun here: the timeline shows it before the play's tasks
                self.withdrawing = threading.Thread(target=self._withdraw, args=(step,), name="dr-withdraw",
                                                    daemon=True)
                self.withdrawing.start()
        if kind == "runner_on_ok" and str(data.get("task", "")).startswith(PROMOTED_TASK) and \
                self.announcing is None:
            self.announcing = threading.Thread(target=self._announce, name="dr-announce", daemon=True)
            self.announcing.start()

    def _withdraw(self, step: Step | None) -> None:
        ok = False
        try:
            ok = self.address.withdraw(step)
        finally:  # the playbook waits at its gate: it must always learn the outcome
            self.withdrawn_ok = ok
            self._open_gate(ok)

    def _open_gate(self, ok: bool) -> None:
        tmp = self.gate.with_name(self.gate.name + ".tmp")
        tmp.write_text("withdrawn\n" if ok else "failed\n")
        tmp.replace(self.gate)

    def _announce(self) -> None:
        if self.withdrawing is not None:
            self.withdrawing.join()
        if not self.withdrawn_ok:
            # the gate held the promotion, so this is not reached; if it were, announcing would put the address
            # at two sites: leave it to the stopped run's handling (after_stop), which asks the databases
            self.address.notes.append("promoted before the withdrawal was committed: not announced from the events")
            return
        _, new = move_sites(self.kind, self.address.pair)
        self.address.record(new)  # first: a deploy planned from here on puts the address there
        self.announced_ok = self.address.announce(new)

    def join(self) -> None:
        for t in (self.withdrawing, self.announcing):
            if t is not None:
                t.join()


def run_drill(kind: str, acc: PairAccess, pair_vars: dict[str, Any], settings: DrillSettings,
              progress: Progress | None = None, resume: bool = False) -> DrillReport:
    p = acc.pair
    report = DrillReport(p.primary_site, kind, p.mode, p.primary, p.replica, targets=default_targets(kind, p.mode))
    address = _Address(report, p, kind, settings, progress)
    try:
        with contextlib.ExitStack() as held:
            if settings.network is not None:
                # the address's phases and a `jinbao deploy` must not interleave (a deploy planned before the
                # move would put the route back at the old site between them): the deploy lock, for the drill
                from network.deploy.lock import deploy_lock

                try:
                    held.enter_context(deploy_lock(f"jinbao dr drill --site {p.primary_site} --mode {kind}",
                                                   lab=settings.network.lab))
                except JinbaoError as e:  # a step only then: a drill's timeline starts with its pre-checks
                    report.end(report.begin("deploy lock (no deploy beside the service address's move)"), False,
                               str(e))
                    report.close("refused", f"{e}; nothing was changed")
                    return report
            _run(kind, acc, pair_vars, settings, progress, resume, report, address)
    finally:
        address.close()
    return report


def _run(kind: str, acc: PairAccess, pair_vars: dict[str, Any], settings: DrillSettings, progress: Progress | None,
         resume: bool, report: DrillReport, address: _Address) -> None:
    p = acc.pair
    step = report.begin("pre-checks: replication state")
    st = current_status(p, acc.primary_dsn(), acc.replica_dsn())
    detail = json.dumps(st.as_dict())
    _, new_site = move_sites(kind, p)
    if resume:
        why = resume_refusal(kind, st)
        report.end(step, why is None, detail)
        if why:
            report.close("refused", why)
            return
        name, extra = RESUME[kind]
        ok = run_playbook(name, {"dr_pair": pair_vars, **extra}, settings, _Events(_Steps(report, progress)))
        if ok:
            address.record(new_site)
            ok = address.settle(new_site)
        report.close(None if ok else "failed", "resumed" if ok else f"{name} failed")
        return
    why = refusal(kind, st, settings.max_lag_bytes)
    report.end(step, why is None, detail)
    if why:
        report.close("refused", why)
        return
    if settings.network is not None:
        early = PROMOTES[kind] == 0  # else staged right before the promoting playbook (_playbooks)
        step = report.begin("service address: both phases rendered, validated, connected and diffed" if early else
                            "service address: both phases rendered and validated")
        try:
            address.prepare(stage=early)
        except Exception as e:  # nothing has moved yet: a phase that cannot be rendered stops the drill here
            report.end(step, False, f"{type(e).__name__}: {e}")
            report.close("aborted", f"the service address's move could not be prepared: {e}")
            return
        report.end(step, True, "")
    step = report.begin("witness: first acknowledged writes through the client path")
    dsn = acc.service_dsn()
    netns = settings.network.witness_netns if settings.network else None
    try:
        witness.prepare(dsn, netns)
    except (psycopg.Error, OSError) as e:
        report.end(step, False, str(e).splitlines()[0] if str(e) else type(e).__name__)
        report.close("aborted", f"the witness could not reach the database through the client path: {e}")
        return
    w = witness.Writer(dsn, netns=netns)
    w.start()
    try:  # the witness stops on every way out: an abort, a failed phase or playbook, an exception
        ok = _drive(kind, acc, pair_vars, settings, progress, report, address, w, step)
    finally:
        w.stop()
    if not ok:
        return
    old = w.acks[0].server
    new = next((a.server for a in reversed(w.acks) if a.server != old), "")
    try:
        report.figures = figures(w.acks, old, new, witness.survivors(dsn, netns))
    except (MeasureError, psycopg.Error) as e:  # the figures are the drill's result: say why there are none
        report.close("failed", f"no figures: {e}")
        return
    missed = [k for k, ok in report.verdicts().items() if not ok]
    t, f = report.targets, report.figures
    report.close(None, "; ".join(
        f"RTO {f.rto_s} s, target < {t.rto_s} s" if k == "rto" else f"RPO {f.rpo_commits} commits, target "
        f"{t.rpo_commits}" for k in missed) if t else "")


def _playbooks(kind: str, acc: PairAccess, pair_vars: dict[str, Any], settings: DrillSettings,
               report: DrillReport, address: _Address, steps: _Steps, switch: _Switch | None) -> bool:
    """The drill's playbooks; the promoting one moves the address through `switch` (None: nothing moves).
    False: the report is closed (failed)."""
    old_site, new_site = move_sites(kind, acc.pair)
    for i, (name, extra) in enumerate(PLAYBOOKS[kind]):
        sw = switch if i == PROMOTES[kind] else None
        args: dict[str, Any] = {"dr_pair": pair_vars, **extra}
        if sw is not None:
            args |= {"dr_gate": str(sw.gate)}  # its wait: dr_gate_timeout, the playbooks' (vars/ends.yml)
            if settings.gate_timeout is not None:  # --gate-timeout: the operator's, for a slow WAN's deploys
                args |= {"dr_gate_timeout": settings.gate_timeout}
        if sw is not None and i > 0:  # a failback: staged after its rebuild, not left idle across it
            step = report.begin("service address: both phases connected and diffed")
            try:
                address.stage()
            except Exception as e:  # nothing moved: the database and its address stay where they are
                report.end(step, False, f"{type(e).__name__}: {e}")
                report.close("failed", f"the service address's devices could not be staged before {name}: {e}; "
                                       f"{', '.join(n for n, _ in PLAYBOOKS[kind][:i])} ran, nothing was switched "
                                       f"(the database and its address stay at {old_site})")
                return False
            report.end(step, True, "")
        ran = run_playbook(name, args, settings, _Events(steps, sw))
        if sw is not None:
            sw.join()
        if not ran:
            if sw is not None and sw.withdrawn_ok is False and sw.withdrawing is not None:
                back = (f"it is announced at {old_site} again" if not address.withdrawn
                        else address.outage(old_site, False))
                report.close("failed", f"withdrawing the service address failed (see the failed step); the "
                                       f"promotion never ran and the old primary takes writes again; {back}")
                return False
            tail = address.after_stop(acc)
            report.close("failed", f"{name} failed (see the failed step); `--resume` finishes it if the new "
                                   f"primary was promoted, otherwise nothing was switched{tail}")
            return False
        if i != PROMOTES[kind]:
            continue
        if sw is None or sw.announcing is None:
            # no network, or the playbook gave no promotion event (renamed task?): after the playbook, as before
            if sw is not None:
                address.notes.append(f"no '{PROMOTED_TASK}' event: announced after the playbook")
            address.record(new_site)
            sw_ok = address.announce(new_site)
        else:
            sw_ok = bool(sw.announced_ok)
        if not sw_ok:
            report.close("failed", f"the database was promoted but announcing its service address at "
                                   f"{new_site} failed (see the failed step): `--resume` deploys it again")
            return False
    return True


def _drive(kind: str, acc: PairAccess, pair_vars: dict[str, Any], settings: DrillSettings,
           progress: Progress | None, report: DrillReport, address: _Address, w: witness.Writer,
           warmup: Step) -> bool:
    """The witness's warm-up, the playbooks with the address's phases, the wait for the new primary's
    acknowledgements (the caller stops the witness). False: the report is closed (aborted or failed)."""
    ok = wait_until(lambda: len(w.acks) >= settings.warmup_acks, 15)
    report.end(warmup, ok, f"{len(w.acks)} acknowledged")
    if not ok:
        report.close("aborted", f"the witness could not write: {w.errors[-1:] or 'no acknowledgement'}")
        return False
    old = w.acks[0].server
    steps = _Steps(report, progress)
    with tempfile.TemporaryDirectory(prefix="jinbao-dr-gate-", dir=run_dir()) as tmp:
        switch = _Switch(address, kind, Path(tmp) / "gate") if settings.network is not None else None
        try:
            if not _playbooks(kind, acc, pair_vars, settings, report, address, steps, switch):
                return False
        except BaseException:
            if switch is not None:
                switch.join()  # a phase still running finishes before the address is put right
            if address.withdrawn:  # stopped between the phases: clients must not be left without a database
                address.after_stop(acc)
            raise
    step = report.begin("witness: writes acknowledged by the new primary")
    settle = max(settings.settle_s, NETWORK_SETTLE_S) if settings.network else settings.settle_s
    ok = wait_until(lambda: any(a.server != old for a in w.acks[-5:]) and
                    sum(1 for a in w.acks if a.server != old) >= 5, settle)
    w.stop()  # before the count: the figures are taken from a stopped witness
    report.end(step, ok, f"{len(w.acks)} acknowledged, {len(w.errors)} errors")
    return True
