"""deploy(): dry-run diffs, or commit-confirm with post-checks and immediate rollback, on many devices at once.

Per device (in parallel, Nornir threaded runner; one device failing never stops the others), and for each of
its artifacts in turn (a firewall's FRR routing config, then its zone ruleset: one Nornir host and one
login per device, so two artifacts never race on one device; if an artifact ends ``failed`` or
``rolled-back`` the ones after it are ``skipped``, untouched):

1. connect, load the full intended config, diff. Empty diff -> ``unchanged`` (nothing is committed).
2. dry-run: report the diff -> ``dry-run``. Nothing else.
3. commit, arming the device-side revert timer when ``confirm_seconds`` is given and the platform has one
   (see platforms.py). From here on, if the controller dies, the device reverts on its own.
4. post-checks, retried until all pass or a deadline that lies safely inside the confirm window.
5. all passed -> confirm (cancel the timer, persist) -> ``committed``;
   any failed -> rollback at once (not waiting for the timer) -> ``rolled-back`` with the reason.
   If even the rollback fails the status is ``failed`` and the error says whether the device timer
   will still revert.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nornir.core.task import Result, Task

from core.threads import serialised
from inventory.platforms import platform as platform_facts
from network.deploy.model import REMOVING, CheckResult, DeployTarget, DeviceResult, PostCheck, Progress
from network.deploy.platforms import Adapter, canonical_address, connection_name, nornir_platform, open_adapter
from network.deploy.runner import build_nornir, check_unique, run_per_host

_log = logging.getLogger(__name__)

DEFAULT_CHECK_TIMEOUT = 60.0  # post-check budget when there is no confirm window


@dataclass(frozen=True)
class ApplyOptions:
    """How a diffed change is committed, the same for deploy() and a staged commit: the confirm window (None:
    no device-side timer), the post-check budget (None: from the window) and retry interval, the commit
    message, and where progress goes."""

    confirm_seconds: int | None
    check_timeout: float | None
    check_interval: float
    message: str
    say: Progress


def confirm_margin(window: float) -> float:
    """Time kept free at the end of a confirm window for the confirm itself to reach the device.

    A confirm is one SSH exec (FRR: ~0.1 s here; IOS/VRP over a slow WAN: seconds), so a fifth of
    the window, at least 2 s and at most 15 s.
    """
    return min(15.0, max(2.0, window * 0.2))


def deploy(
    targets: Sequence[DeployTarget],
    dry_run: bool,
    confirm_seconds: int | None,
    progress: Progress | None = None,
    *,
    check_timeout: float | None = None,
    check_interval: float = 1.0,
    message: str = "",
    workers: int = 20,
    connect_timeout: float = 10.0,
    inventory_dir: str | os.PathLike[str] | None = None,
) -> list[DeviceResult]:
    """Deploy each target's ``config_text``; return one DeviceResult per target, in target order.

    Devices run in parallel; the targets of one device (same ``device_name``) run one after the other
    (``device_groups``), and a failed or rolled-back one leaves the rest ``skipped``.

    dry_run: only diff. confirm_seconds: the confirm window (device-side revert timer); None commits
    without a timer (post-checks still run and a failure still rolls back). check_timeout: cap on
    the post-check time (default: the confirm window minus a margin, or 60 s without one).
    progress(hostname, message) is called as each device moves on.
    """
    if confirm_seconds is not None and confirm_seconds < 5:
        raise ValueError("confirm_seconds below 5 s leaves no time for post-checks")
    check_unique(targets)
    groups = device_groups(targets)
    say = serialised(progress)
    opts = ApplyOptions(confirm_seconds, check_timeout, check_interval, message, say)

    def work(task: Task, first: DeployTarget) -> list[DeviceResult]:
        return _one_device(groups[first.device_name], lambda target: _deploy_one(task, target, dry_run, opts), say)

    def crashed(first: DeployTarget, error: str) -> list[DeviceResult]:
        return [DeviceResult(t.hostname, "failed", error=error) for t in groups[first.device_name]]

    per_device = run_per_host([arts[0] for arts in groups.values()], work, workers=workers,
                              connect_timeout=connect_timeout, on_crash=crashed, inventory_dir=inventory_dir)
    by_name = {r.hostname: r for results in per_device for r in results}
    return [by_name[t.hostname] for t in targets]


def device_groups(targets: Sequence[DeployTarget]) -> dict[str, list[DeployTarget]]:
    """Targets per device, in the order they are applied: the device's own config first, then its artifacts
    (platform kind ``artifact``, e.g. a firewall's nftables ruleset), each kind in the order given.

    One device is one Nornir host and one connection, so its artifacts must share one login; anything
    else is a ValueError naming the device."""
    groups: dict[str, list[DeployTarget]] = {}
    for t in targets:
        groups.setdefault(t.device_name, []).append(t)
    for name, arts in groups.items():
        arts.sort(key=lambda t: platform_facts(t.platform).kind == "artifact")  # stable: given order otherwise
        first = arts[0]
        for t in arts[1:]:
            same = (t.host, t.port, t.username, t.key_file, t.password, t.known_hosts, t.options) == (
                first.host, first.port, first.username, first.key_file, first.password, first.known_hosts,
                first.options)
            if not same or (connection_name(t.platform), nornir_platform(t.platform)) != (
                    connection_name(first.platform), nornir_platform(first.platform)):
                raise ValueError(f"{name}: artifacts {first.hostname} and {t.hostname} must share one login and"
                                 f" connection to be applied on one device")
    return groups


def _one_device(targets: list[DeployTarget], apply: Callable[[DeployTarget], DeviceResult],
                say: Progress) -> list[DeviceResult]:
    """The targets of one device in order (a deploy's and a staged commit's): after a failed or rolled-back one,
    the rest are ``skipped``, never applied on top of a device left in an unknown state."""
    results: list[DeviceResult] = []
    blocker: DeviceResult | None = None
    for target in targets:
        if blocker is not None:
            results.append(DeviceResult(target.hostname, "skipped", error=(
                f"not attempted: {blocker.hostname} (applied first on the same device) {blocker.status}")))
            say(target.hostname, f"skipped: {blocker.hostname} {blocker.status}")
            continue
        res = apply(target)
        results.append(res)
        if res.status in ("failed", "rolled-back"):
            blocker = res
    return results


def _deploy_one(task: Task, target: DeployTarget, dry_run: bool, opts: ApplyOptions) -> DeviceResult:
    t0 = time.monotonic()
    res, adapter = _open_one(task, target, dry_run, opts.say)
    try:
        if adapter is None:
            return res
        return _apply_one(adapter, res, target, opts)
    finally:
        res.seconds = round(time.monotonic() - t0, 3)
        opts.say(target.hostname, f"{res.status} in {res.seconds:.1f}s" + (f": {res.error}" if res.error else ""))


def _laps(res: DeviceResult) -> Callable[[str], None]:
    """res.timings[name] = seconds since the previous lap (or since this call)."""
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        res.timings[name] = round(now - mark, 3)
        mark = now

    return lap


def _open_one(task: Task, target: DeployTarget, dry_run: bool, say: Progress,
              keep_unchanged: bool = False, attempt: float | None = None) -> tuple[DeviceResult, Adapter | None]:
    """Connect, diff. The adapter when there is something to commit (or, with `keep_unchanged`, an ``unchanged``
    result's: a staged deploy diffs it again at commit); None: `res` is final (unchanged, dry-run, refused or
    failed; nothing was changed). `attempt`: a fresh connection whose every wait is bounded by that many
    seconds (a reconnect inside a drill's window)."""
    res = DeviceResult(target.hostname, "failed")
    lap = _laps(res)
    on_device = platform_facts(target.platform).validator == "on-device"  # nft -c there, before any change
    if not on_device and target.validated_sha256 != hashlib.sha256(target.config_text.encode()).hexdigest():
        # Stamped by network.validate.validated() (build_targets does it): an unchecked or edited config
        # never reaches a device, not even for a diff.
        res.error = "config not validated by its platform's validator (network.validate): refusing to push it"
        say(target.hostname, res.error)
        return res, None
    try:
        say(target.hostname, "connecting")
        adapter = open_adapter(task, target) if attempt is None else _attempt(task, target, attempt)
        lap("connect")
        res.diff = adapter.diff(target.config_text)
        res.removals = _removals(adapter)
        lap("diff")
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        return res, None
    if not res.diff:
        res.status = "unchanged"
        return res, (adapter if keep_unchanged else None)
    if dry_run:
        res.status = "dry-run"
        return res, None
    return res, adapter


def _apply_one(adapter: Adapter, res: DeviceResult, target: DeployTarget, opts: ApplyOptions) -> DeviceResult:
    """Commit what _open_one diffed, post-check, confirm or roll back."""
    confirm_seconds, say = opts.confirm_seconds, opts.say
    lap = _laps(res)
    committed = False
    try:
        if adapter.pending():
            # Someone else's commit awaits confirmation: committing (or rolling back) would take
            # over their change. Leave the device alone.
            res.error = "the device has an unconfirmed commit in progress (another deploy?): nothing changed"
            return res
        for line in res.removals:  # before the commit, one by one: never a surprise in the device's log
            say(target.hostname, f"{REMOVING}{line}")
        say(target.hostname, "committing" + (f" (confirm within {confirm_seconds}s)" if confirm_seconds else ""))
        commit_started = time.monotonic()
        # From here any error means the device may be (partly) changed and gets rolled back.
        committed = True
        res.device_revert_in = adapter.commit(target.config_text, confirm_seconds, opts.message or "jinbao deploy")
        lap("commit")
        deadline = _check_deadline(commit_started, confirm_seconds, res.device_revert_in, opts.check_timeout)
        say(target.hostname, f"post-checks (up to {max(0.0, deadline - time.monotonic()):.0f}s)")
        res.checks = run_checks(adapter, target.post_checks, deadline, opts.check_interval)
        lap("checks")
        failed = [c for c in res.checks if not c.ok]
        if not failed:
            adapter.confirm()
            lap("confirm")
            res.status = "committed"
            say(target.hostname, "committed")
            return res
        say(target.hostname, "post-checks failed: rolling back")
        adapter.rollback()
        lap("rollback")
        res.status = "rolled-back"
        res.error = "post-checks failed: " + "; ".join(f"{c.kind} {c.target}: {c.detail}" for c in failed)
        return res
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        from network.drivers.frr import PendingCommitError  # here: the driver imports napalm (seconds)

        if isinstance(exc, PendingCommitError):
            committed = False  # refused before touching anything: the pending commit is not ours
        if committed:
            res.status, res.error = _recover(adapter, res, target.hostname, say)
        else:
            res.status = "failed"
        return res


class Staged:
    """deploy() in two halves on the same connections, for a change whose timing matters (a DR drill's outage
    window holds only the commit): `stage` connects to every device and diffs now (in parallel), `commit` later
    commits, post-checks and confirms or rolls back each device as deploy() does (in parallel), then closes the
    connections. `close` without `commit` changes nothing. Each target's ``timings`` keeps both halves."""

    def __init__(self, targets: Sequence[DeployTarget], *, confirm_seconds: int | None = None,
                 check_timeout: float | None = None, check_interval: float = 1.0, message: str = "",
                 workers: int = 20, connect_timeout: float = 10.0,
                 inventory_dir: str | os.PathLike[str] | None = None, progress: Progress | None = None) -> None:
        if confirm_seconds is not None and confirm_seconds < 5:
            raise ValueError("confirm_seconds below 5 s leaves no time for post-checks")
        check_unique(targets)
        self.targets, self.groups = list(targets), device_groups(targets)
        self._by_host = {arts[0].hostname: arts for arts in self.groups.values()}  # Nornir host -> its targets
        self.say = serialised(progress)
        self.opts = ApplyOptions(confirm_seconds, check_timeout, check_interval, message, self.say)
        self._opened: dict[str, tuple[DeviceResult, Adapter | None]] = {}
        self._nr = build_nornir([arts[0] for arts in self.groups.values()], workers, connect_timeout, inventory_dir)
        self._closed = False

    def stage(self) -> None:
        def work(task: Task) -> Result:
            for target in self._by_host[task.host.name]:
                self._opened[target.hostname] = _open_one(task, target, False, self.say, keep_unchanged=True)
            return Result(host=task.host)

        self._nr.run(task=work, name="jinbao-stage", raise_on_error=False)

    def diffs(self) -> dict[str, str]:
        return {h: r.diff for h, (r, _) in self._opened.items()}

    def failed(self) -> list[DeviceResult]:
        """The targets the stage could not connect to or diff (they would fail at commit)."""
        return [r for r, adapter in self._opened.values() if adapter is None and r.status == "failed"] + [
            DeviceResult(t.hostname, "failed", error="not staged (no connection)")
            for t in self.targets if t.hostname not in self._opened]

    def commit(self, deadline: float | None = None) -> list[DeviceResult]:
        """One DeviceResult per target, in target order (a target whose stage failed or found nothing to change
        keeps that result; after a failed or rolled-back one, the device's next targets are ``skipped``).
        `deadline` (time.monotonic()): a device whose session dropped is reconnected in short attempts until then
        at most (None: one attempt with the deploy's usual timeouts)."""
        if self._closed:
            raise RuntimeError("this staged deploy was closed")

        def commit_one(task: Task, target: DeployTarget) -> DeviceResult:
            res, adapter = self._opened.get(target.hostname) or (
                DeviceResult(target.hostname, "failed", error="not staged (no connection)"), None)
            t0 = time.monotonic()
            if adapter is not None:
                res, adapter = self._restage(task, target, res, adapter, deadline)
            if adapter is not None:
                res = _apply_one(adapter, res, target, self.opts)
                res.seconds = round(time.monotonic() - t0, 3)
            self.say(target.hostname, f"{res.status}" + (f": {res.error}" if res.error else ""))
            return res

        def work(task: Task) -> Result:
            return Result(host=task.host, result=_one_device(self._by_host[task.host.name],
                                                             lambda t: commit_one(task, t), self.say))

        try:
            agg = self._nr.run(task=work, name="jinbao-commit", raise_on_error=False)
        finally:
            self.close()
        by_name: dict[str, DeviceResult] = {}
        for name, arts in self._by_host.items():
            multi = agg.get(name)
            if multi is None or multi.failed or not multi:
                exc = multi[0].exception if multi else None
                for t in arts:
                    by_name[t.hostname] = DeviceResult(t.hostname, "failed", error=(
                        f"{type(exc).__name__}: {exc}" if exc else "task did not run"))
            else:
                by_name |= {r.hostname: r for r in multi[0].result}
        return [by_name[t.hostname] for t in self.targets]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._nr.close_connections(on_good=True, on_failed=True)

    def _restage(self, task: Task, target: DeployTarget, res: DeviceResult, adapter: Adapter,
                 deadline: float | None = None) -> tuple[DeviceResult, Adapter | None]:
        """What the stage found, made current at commit: a session that dropped while it sat idle (a drill's
        long playbook) is opened again and diffed afresh; a target the stage found unchanged is diffed again (a
        change since, such as another deploy's, must not be skipped on a stale empty diff). The adapter to
        commit with, or None: `res` is final."""
        if not (_alive(adapter) if deadline is None else _alive_by(adapter, deadline)):
            self.say(target.hostname, "session dropped since the stage: connecting again")
            fresh, adapter2 = self._reconnect(task, target, deadline)
            fresh.timings = {**res.timings, **{f"re{k}": v for k, v in fresh.timings.items()}}
            return fresh, adapter2
        if res.status != "unchanged":
            return res, adapter
        lap = _laps(res)
        try:
            res.diff = adapter.diff(target.config_text)
            res.removals = _removals(adapter)
        except Exception as exc:
            res.status, res.error = "failed", f"{type(exc).__name__}: {exc} (diffing again at commit)"
            return res, None
        lap("rediff")
        if not res.diff:
            return res, None  # still nothing to change
        self.say(target.hostname, "changed since the stage: committing")
        res.status = "failed"  # until _apply_one says otherwise, as for any target it commits
        return res, adapter

    def _reconnect(self, task: Task, target: DeployTarget,
                   deadline: float | None) -> tuple[DeviceResult, Adapter | None]:
        """Connect and diff again: without a deadline once, with the deploy's timeouts; with one, in attempts of
        RECONNECT_ATTEMPT_S at most, again until the deadline, never past it: a device that is really gone costs
        the window, not minutes more. An attempt (the open and the new session's first liveness exercise) is
        bounded as a whole (_attempt), not only each of its waits."""
        n, last = 0, DeviceResult(target.hostname, "failed")
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < RECONNECT_MIN_S:
                return DeviceResult(target.hostname, "failed", error=(
                    f"session dropped since the stage; {n} reconnect attempt(s) failed within the window"
                    + (f" (last: {last.error})" if n else ""))), None
            # the old, half-open session leaves the host at once and is closed behind (_close_behind)
            old = task.host.connections.pop(connection_name(target.platform), None)
            if old is not None:
                _close_behind(target.hostname, old.close)
            n += 1
            last, adapter = _open_one(task, target, False, self.say,
                                      attempt=None if left is None else min(RECONNECT_ATTEMPT_S, left))
            if adapter is not None or last.status != "failed" or deadline is None:
                return last, adapter
            self.say(target.hostname, f"reconnect attempt {n} failed: {last.error}")
            time.sleep(min(RECONNECT_PAUSE_S, max(0.0, deadline - time.monotonic())))  # a refusal comes at once


RECONNECT_ATTEMPT_S = 5.0  # one reconnect attempt inside a deadline (a drill's window): connect, login, probe
RECONNECT_MIN_S = 1.0  # less left than this: no further attempt (it could not even connect)
RECONNECT_PAUSE_S = 0.5  # between attempts


def _removals(adapter: Adapter) -> list[str]:
    """What the adapter's last diff would remove besides its merge (merge platforms' static routes), as sent."""
    get = getattr(adapter, "removals", None)
    return list(get()) if get is not None else []


def _attempt(task: Task, target: DeployTarget, seconds: float) -> Adapter:
    """One reconnect attempt, `seconds` at most in all: a fresh connection (each of its waits bounded by `seconds`
    too: connection_options) and the new session's liveness, in a helper thread. The per-wait bounds alone let
    the sum run past the deadline (connect, then the driver's probe, then a prompt that never comes). Past
    `seconds`: TimeoutError, the new connection closed (which ends a liveness call blocked on it; an open still
    under way is closed by its thread once it returns). Done in time: the connection becomes the host's (closed
    with the deploy's)."""
    fresh: list[Any] = []  # the attempt's Nornir connection plugin, known before it opens
    got: list[Adapter] = []
    failed: list[BaseException] = []
    lock, done, given_up = threading.Lock(), threading.Event(), threading.Event()

    def run() -> None:
        try:
            adapter = open_adapter(task, target, seconds, fresh)
            if not _alive(adapter):
                raise ConnectionError("the new session does not answer")
            got.append(adapter)
        except BaseException as exc:  # handed to the caller (the thread ends either way)
            failed.append(exc)
        with lock:
            done.set()
            late = given_up.is_set()
        if late:  # nobody will use or close it: its own thread does
            _close_fresh(fresh)

    threading.Thread(target=run, name=f"jinbao-reconnect-{target.hostname}", daemon=True).start()
    done.wait(seconds)
    with lock:
        if not done.is_set():
            given_up.set()
    if given_up.is_set():
        _close_behind(target.hostname, lambda: _close_fresh(fresh))
        raise TimeoutError(f"no answering session within {seconds:.1f}s (connect, login, liveness)")
    if failed:
        raise failed[0]
    if fresh:  # the host's now: Staged.close() closes it with the others
        task.host.connections[connection_name(target.platform)] = fresh[0]
    return got[0]


def _close_fresh(fresh: list[Any]) -> None:
    """Close the connection plugins an attempt opened (one still opening has no `connection` yet: skipped)."""
    for plugin in fresh:
        if getattr(plugin, "connection", None) is not None:
            try:
                plugin.close()
            except Exception as exc:  # already closed, or broken: either way gone
                _log.debug("closing a reconnect attempt's session: %s", exc)


def _close_behind(hostname: str, close: Callable[[], None]) -> None:
    """`close` on a daemon thread, not waited for. Closing a netmiko session logs out politely (a newline, then
    up to ~10 s for a prompt): on the reconnect path that would run each attempt past its bound. Errors are of
    a session gone anyway: logged at debug."""

    def run() -> None:
        try:
            close()
        except Exception as exc:
            _log.debug("%s: closing a dropped session: %s", hostname, exc)

    threading.Thread(target=run, name=f"jinbao-close-{hostname}", daemon=True).start()


def _alive_by(adapter: Adapter, deadline: float) -> bool:
    """_alive, given up on (False: reconnect) after RECONNECT_ATTEMPT_S or at the deadline, whichever comes first:
    a half-open session's probe (the FRR driver's 10 s, a prompt that never comes) must not eat the window. A
    check given up on runs on in its thread until the reconnect closes the old connection under it."""
    answer: list[bool] = []
    t = threading.Thread(target=lambda: answer.append(_alive(adapter)), name="jinbao-alive", daemon=True)
    t.start()
    t.join(max(0.0, min(RECONNECT_ATTEMPT_S, deadline - time.monotonic())))
    return bool(answer and answer[0])


def _alive(adapter: Adapter) -> bool:
    """Whether the adapter's session still answers (an adapter that cannot tell is taken as alive)."""
    check = getattr(adapter, "alive", None)
    if check is None:
        return True
    try:
        return bool(check())
    except Exception:
        return False


def _recover(adapter: Adapter, res: DeviceResult, hostname: str, say: Progress) -> tuple[str, str]:
    """After an error between commit and confirm: roll back now if the device still answers."""
    say(hostname, f"error after commit ({res.error}): rolling back")
    try:
        adapter.rollback()
        return "rolled-back", f"{res.error}; rolled back"
    except Exception as exc:
        timer = (
            f"the device's own timer reverts it within {res.device_revert_in}s of the commit"
            if res.device_revert_in
            else "no device-side timer: check the device by hand"
        )
        return "failed", f"{res.error}; rollback failed ({type(exc).__name__}: {exc}); {timer}"


def _check_deadline(
    commit_started: float, confirm_seconds: int | None, device_timer: int | None, check_timeout: float | None
) -> float:
    """When post-checks must give up: inside the window the device timer (or the caller) allows."""
    if confirm_seconds is not None:
        # The device timer started just before the commit call; it may be longer than asked (IOS
        # rounds up to minutes) but the caller's window is the promise: use the shorter.
        window = float(min(confirm_seconds, device_timer or confirm_seconds))
        deadline = commit_started + window - confirm_margin(window)
    else:
        deadline = time.monotonic() + DEFAULT_CHECK_TIMEOUT
    if check_timeout is not None:
        deadline = min(deadline, time.monotonic() + check_timeout)
    return deadline


def run_checks(adapter: Adapter, checks: Sequence[PostCheck], deadline: float, interval: float) -> list[CheckResult]:
    """Run every check until all pass or ``deadline``; return the last round's results.

    Retried because a correct change still needs seconds to converge (BGP OPEN/KEEPALIVE, BFD, route
    install); the last round is the verdict. Always at least one round, even past the deadline.
    """
    while True:
        started = time.monotonic()
        results = _one_round(adapter, checks)
        took = time.monotonic() - started
        # Stop unless another full round (as long as this one: failing pings wait for their timeout)
        # still fits before the deadline, so checks never eat the time kept for the confirm.
        if all(r.ok for r in results) or time.monotonic() + interval + took >= deadline:
            return results
        time.sleep(interval)


def _one_round(adapter: Adapter, checks: Sequence[PostCheck]) -> list[CheckResult]:
    results: list[CheckResult] = []
    bgp: dict[str, bool] | None = None
    for check in checks:
        for target in check.targets:
            try:
                if check.kind == "bgp_established":
                    if bgp is None:
                        bgp = adapter.bgp_established()  # one query per round for all neighbours
                    up = bgp.get(canonical_address(target))
                    detail = "Established" if up else ("not Established" if up is not None else "no such neighbour")
                    results.append(CheckResult(check.kind, target, bool(up), detail))
                else:
                    ok, detail = adapter.ping(target, check.source)
                    results.append(CheckResult(check.kind, target, ok, detail))
            except Exception as exc:  # a check that cannot run has failed, and says why
                results.append(CheckResult(check.kind, target, False, f"{type(exc).__name__}: {exc}"))
    return results
