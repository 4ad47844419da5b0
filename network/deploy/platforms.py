"""Per-platform adapters: one small interface over NAPALM (frr, cisco_ios, huawei_vrp) and Netmiko (h3c_comware).

Which adapter, driver, load mode and revert timer a platform gets is read from the platform registry
(inventory/platforms.py); this module only holds the code, found by the registry's adapter name.

The engine only speaks ``Adapter``; what each platform can really do differs, and that difference is
stated here rather than papered over:

- frr (network.drivers.frr): replace; diff from ``frr-reload.py --test``; device-side revert timer of
  any number of seconds (a revert script on the router).
- cisco_ios (napalm ios): replace; diff from the archive's config diff; device-side timer
  ``configure replace ... revert timer N``: whole minutes, 1-120, needs ``archive`` configured.
- huawei_vrp (Netmiko huawei_vrpv8, VrpAdapter): VRP V8's two-stage configuration: the lines go into
  the candidate in system-view, then `commit` (or `commit trial N`, the device rolls back on its own
  after N seconds unless `commit` follows; `abort trial` rolls back at once), then `save`. Merge only;
  diff = candidate lines not in running, and the static routes running has that the intended config
  does not (`undo ip route-static ...`, see below). (napalm-huawei-vrp commits too, but has no trial commit.)
- h3c_comware (Netmiko hp_comware): merge with send_config_set; diff as VRP's (`undo ip route-static`
  too); device-side timer ``configuration commit delay N``: whole minutes (Comware 7 R1121+).

Static routes on the merge platforms: a merge only adds lines, so a route the intent no longer has (a DR
drill's service address moving away, dr/network.py) would stay. A top-level ``ip``/``ipv6 route-static`` line
in running whose route (VPN instance, destination, mask, next hop) the intended config does not have is undone
when its destination is the plan's own (``StaticScope``): one the intended config routes (in that VPN instance:
a next hop moved), or one the target names (the DR service addresses the device may announce). A route to any
other destination was added by an operator, not by the plan: it is left alone unless the target asks to prune
(`jinbao deploy --prune-static-routes`). The undo lines are sent after the merge's lines, so a route moving to
a new next hop has the new one before the old one goes (Comware applies each line at once; VRP's candidate
is committed as a whole either way), and from system view: a `quit` for each view the merge's last section
left open (`views_open`). The merge's own top-level lines after a section (the ``#`` separators are not sent)
still rely on the device running a system-view command from a sub-view.

Only the FRR path runs in this repository's lab; the others follow their drivers' documented
behaviour and have not been run against real devices here.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from nornir.core.inventory import ConnectionOptions
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir.core.task import Task

from inventory.platforms import DeploySpec, platform
from network.deploy.model import DeployTarget

IOS_TIMER_MIN = 1  # minutes, napalm ios (Cisco archive rollback timer); the maximum is in the registry
COMWARE_CHECKPOINT = "flash:/jinbao-rollback.cfg"


class Adapter(Protocol):
    """What the engine needs from a platform. Every call talks to the device."""

    method: str  # how diffs are made, for reports

    def running(self) -> str: ...

    def diff(self, intended: str) -> str:
        """What committing ``intended`` would change (empty: nothing). Changes nothing."""
        ...

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        """Apply ``intended``; arm a device-side revert if asked and possible. Return its seconds or None."""
        ...

    def confirm(self) -> None: ...

    def rollback(self) -> None: ...

    def pending(self) -> bool:
        """Whether the device has an unconfirmed commit (anyone's) right now."""
        ...

    def bgp_established(self) -> dict[str, bool]:
        """Every BGP neighbour the device has (all VRFs) -> Established or not."""
        ...

    def ping(self, address: str, source: str | None) -> tuple[bool, str]: ...

    # optional: ``alive() -> bool``, whether the session still answers (a staged deploy reconnects when not)
    # optional: ``removals() -> list[str]``, what the last diff's commit removes besides a merge (said first)


def deploy_spec(name: str) -> DeploySpec:
    spec = platform(name).deploy
    if spec is None:
        raise ValueError(f"platform {name!r} cannot be deployed")
    return spec


def connection_name(name: str) -> str:
    """The Nornir connection plugin a platform uses."""
    return deploy_spec(name).connection


def nornir_platform(name: str) -> str:
    """The platform string the connection plugin expects (NAPALM driver name / Netmiko device_type)."""
    return deploy_spec(name).driver


def connection_options(target: DeployTarget, connect_timeout: float,
                       attempt: float | None = None) -> dict[str, ConnectionOptions]:
    """Nornir connection options for a target: key auth, host-key checking, timeouts. `attempt`: one short
    reconnect attempt (a staged commit's, inside a drill's window): every wait of the open (TCP connect, banner,
    authentication, the FRR driver's vtysh probe) bounded by it."""
    spec = deploy_spec(target.platform)
    if spec.driver == "frr":
        optional: dict[str, Any] = {"port": target.port, "key_file": target.key_file, "known_hosts": target.known_hosts}
        optional.update(target.options)
        if attempt is not None:
            optional["probe_timeout"] = attempt
        return {"napalm": ConnectionOptions(extras={"optional_args": optional, "timeout": max(1, math.ceil(
            attempt if attempt is not None else connect_timeout))})}
    # Netmiko underneath (napalm ios / huawei_vrp pass Netmiko arguments through optional_args).
    netmiko: dict[str, Any] = {
        "port": target.port,
        "use_keys": target.key_file is not None,
        "key_file": target.key_file,
        "allow_agent": False,
        "ssh_strict": True,  # refuse unknown host keys, as the FRR driver does
        "system_host_keys": True,
        "alt_host_keys": target.known_hosts is not None,
        "alt_key_file": target.known_hosts or "",
        "conn_timeout": connect_timeout,
    }
    netmiko.update(target.options)
    if attempt is not None:  # after the target's own options: the attempt's bound wins
        netmiko |= {"conn_timeout": attempt, "banner_timeout": attempt, "auth_timeout": attempt}
    if spec.connection == "netmiko":
        return {"netmiko": ConnectionOptions(platform=spec.driver, extras=netmiko)}
    # napalm's own "timeout" stays at its default (60 s): for ios/huawei_vrp it is Netmiko's read timeout,
    # which file transfers and configure replace need; conn_timeout above bounds the connect.
    return {"napalm": ConnectionOptions(extras={"optional_args": netmiko})}


def open_adapter(task: Task, target: DeployTarget, attempt: float | None = None,
                 fresh: list[Any] | None = None) -> Adapter:
    """Open (or reuse) the host's Nornir connection and wrap it. `attempt`: open it afresh (the host's connection
    closed first), every wait bounded by that many seconds (connection_options). With `fresh` too, the new
    connection is not made the host's: its Nornir connection plugin is appended to `fresh` before it opens, so
    the caller can close it at any point (a reconnect attempt given up on while this still runs) or adopt it."""
    spec = deploy_spec(target.platform)
    if attempt is None:
        conn = task.host.get_connection(spec.connection, task.nornir.config)
    elif fresh is not None:
        opts = connection_options(target, attempt, attempt)[spec.connection]
        params = task.host.get_connection_parameters(spec.connection)
        plugin = ConnectionPluginRegister.get_plugin(spec.connection)()
        fresh.append(plugin)
        plugin.open(hostname=params.hostname, username=params.username, password=params.password,
                    port=params.port, platform=opts.platform if opts.platform is not None else params.platform,
                    extras=opts.extras, configuration=task.nornir.config)
        conn = plugin.connection
    else:
        opts = connection_options(target, attempt, attempt)[spec.connection]
        task.host.open_connection(spec.connection, task.nornir.config, platform=opts.platform, extras=opts.extras)
        conn = task.host.get_connection(spec.connection, task.nornir.config)
    if spec.load == "merge":  # the static routes it may undo (the module's docstring)
        return ADAPTERS[spec.adapter](conn, target.platform, StaticScope.of(target))
    return ADAPTERS[spec.adapter](conn, target.platform)


def prompt_answers(netmiko_conn: Any) -> bool:
    """A Netmiko session answers: its transport says so, and a prompt comes back to an empty line (is_alive alone
    writes a byte, which a half-open TCP session buffers without complaint). Netmiko bounds find_prompt itself
    (a few seconds, then ValueError)."""
    if not netmiko_conn.is_alive():
        return False
    try:
        return bool(netmiko_conn.find_prompt())
    except Exception:
        return False


class NapalmAdapter:
    def __init__(self, device: Any, platform: str) -> None:
        self.device = device
        self.platform = platform
        self.spec = deploy_spec(platform)
        # napalm-huawei-vrp's load_replace_candidate is an empty stub: merge is all it can do (registry).
        self.replace = self.spec.load == "replace"
        self.method = self.spec.diff_method
        self._armed: int | None = None

    def alive(self) -> bool:
        """The session answers: the FRR driver's is_alive runs a no-op command (bounded); napalm's other drivers
        only look at the transport, so their Netmiko session (`device.device`) must also give a prompt."""
        if not self.device.is_alive().get("is_alive"):
            return False
        cli = getattr(self.device, "device", None)
        return self.spec.driver == "frr" or cli is None or not hasattr(cli, "find_prompt") or prompt_answers(cli)

    def running(self) -> str:
        return str(self.device.get_config(retrieve="running")["running"])

    def _load(self, intended: str) -> None:
        if self.replace:
            self.device.load_replace_candidate(config=intended)
        else:
            self.device.load_merge_candidate(config=intended)

    def diff(self, intended: str) -> str:
        self._load(intended)
        try:
            return str(self.device.compare_config() or "").strip()
        finally:
            self.device.discard_config()

    def revert_seconds(self, confirm_seconds: int | None) -> int | None:
        """The device-side timer this platform can arm for a confirm window (None: it cannot)."""
        if confirm_seconds is None or self.spec.revert == "none":
            return None
        if self.spec.revert == "minutes":
            # Cisco's timer counts whole minutes: round up so the device never reverts before the
            # controller's window has ended.
            most = (self.spec.revert_max_seconds or 60) // 60
            minutes = min(max(math.ceil(confirm_seconds / 60), IOS_TIMER_MIN), most)
            return minutes * 60
        return int(confirm_seconds)

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        self._load(intended)
        revert_in = self.revert_seconds(confirm_seconds)
        if self.spec.driver == "frr":
            self.device.commit_config(message=message, revert_in=revert_in)
        elif revert_in is not None:
            self.device.commit_config(revert_in=revert_in)  # napalm ios: message not supported
        else:
            self.device.commit_config()
        self._armed = revert_in
        return revert_in

    def confirm(self) -> None:
        if self._armed is not None:
            self.device.confirm_commit()
            self._armed = None

    def rollback(self) -> None:
        self.device.rollback()
        self._armed = None

    def pending(self) -> bool:
        if self.spec.revert == "none":
            return False  # napalm-huawei-vrp has no commit-confirm, so nothing can be pending
        return bool(self.device.has_pending_commit())

    def bgp_established(self) -> dict[str, bool]:
        state: dict[str, bool] = {}
        for vrf in self.device.get_bgp_neighbors().values():
            for addr, peer in vrf.get("peers", {}).items():
                state[canonical_address(addr)] = bool(peer.get("is_up")) or state.get(canonical_address(addr), False)
        return state

    def ping(self, address: str, source: str | None) -> tuple[bool, str]:
        kwargs: dict[str, Any] = {"count": 2, "timeout": 1}
        if source:
            kwargs["source"] = source
        res = self.device.ping(address, **kwargs)
        if "success" not in res:
            return False, str(res.get("error", "ping failed"))
        s = res["success"]
        ok = s["probes_sent"] > s["packet_loss"]
        return ok, f"{s['probes_sent'] - s['packet_loss']}/{s['probes_sent']} replies"


class _VendorCli:
    """What the Netmiko-driven vendor CLIs (VRP, Comware) share: `display current-configuration`, a text
    diff of merge lines (and of static routes to undo), answering the device's Y/N questions, reading
    `display bgp ... peer` tables."""

    method = "text (candidate lines not in running; static routes to undo)"

    def __init__(self, conn: Any, platform: str, scope: StaticScope | None = None) -> None:
        self.conn = conn
        self.platform = platform
        self.scope = scope or StaticScope()
        self._armed: int | None = None
        self._diffed: tuple[str, list[str]] | None = None  # (intended, its undo lines) from the last diff

    def alive(self) -> bool:
        return prompt_answers(self.conn)

    def running(self) -> str:
        return str(self.conn.send_command("display current-configuration", read_timeout=120))

    def diff(self, intended: str) -> str:
        running = self.running()
        # kept for commit: a staged deploy diffs before the outage window and commits inside it, where one
        # more `display current-configuration` (seconds on a large device) would lengthen the window
        self._diffed = (intended, undo_static_routes(running, intended, comment="#", scope=self.scope))
        return merge_diff(running, intended, comment="#", scope=self.scope)

    def removals(self) -> list[str]:
        """The undo lines of the last diff: what the commit removes (the engine says them before it commits)."""
        return list(self._diffed[1]) if self._diffed else []

    def change_lines(self, intended: str) -> list[str]:
        """What commit sends: the intended config's lines, then the undo of the static routes to remove (a
        route moved to a new next hop is never absent in between). `undo ip route-static` is a system-view
        command: before the undos, one `quit` per view the intended lines left open (views_open). `quit`, not
        `return` + `system-view`: VRP's two-stage session holds the uncommitted candidate, and leaving system
        view with one asks whether to commit it."""
        if self._diffed is None or self._diffed[0] != intended:
            self._diffed = (intended, undo_static_routes(self.running(), intended, comment="#", scope=self.scope))
        lines = config_lines(intended, comment="#")
        undo = self._diffed[1]
        return [*lines, *(["quit"] * views_open(lines) if undo else []), *undo]

    def _answer_yes(self, command: str) -> str:
        out = last = str(self.conn.send_command_timing(command, read_timeout=120))
        for _ in range(5):  # each question answered once (only the latest answer is read: `out` keeps them all)
            if not re.search(r"\[Y/N\]|\(y/n\)|continue\?", last, re.I):
                break
            last = str(self.conn.send_command_timing("Y", read_timeout=120))
            out += last
        return out

    def _bgp_tables(self, *commands: str) -> dict[str, bool]:
        state: dict[str, bool] = {}
        for cmd in commands:
            for line in str(self.conn.send_command(cmd)).splitlines():
                fields = line.split()
                if fields and _is_ip(fields[0]):
                    state[canonical_address(fields[0])] = "Established" in fields
        return state


class ComwareAdapter(_VendorCli):
    """H3C Comware 7 over Netmiko (hp_comware): merge with send_config_set, then save.

    Confirm window: ``configuration commit delay <minutes>`` before the change makes the switch roll
    back on its own unless ``configuration commit`` follows in time. Immediate rollback replaces the
    running config with a checkpoint saved before the change (``configuration replace file``).
    Not run against a real Comware device in this repository.
    """

    def __init__(self, conn: Any, platform: str = "h3c_comware", scope: StaticScope | None = None) -> None:
        super().__init__(conn, platform, scope)

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        self._answer_yes(f"save {COMWARE_CHECKPOINT}")  # checkpoint for rollback (not the startup file)
        lines = self.change_lines(intended)
        revert_in = None if confirm_seconds is None else max(1, math.ceil(confirm_seconds / 60)) * 60
        if revert_in is not None:
            lines = [f"configuration commit delay {revert_in // 60}", *lines]
        out = str(self.conn.send_config_set(lines, read_timeout=120))
        if re.search(r"^\s*% ?(Unrecognized|Incomplete|Wrong|Too many)", out, re.M):
            raise RuntimeError(f"Comware rejected a command: {out[-2000:]}")
        if revert_in is None:
            self.conn.save_config()
        self._armed = revert_in
        return revert_in

    def confirm(self) -> None:
        if self._armed is not None:
            self.conn.send_config_set(["configuration commit"])
            self.conn.save_config()
            self._armed = None

    def rollback(self) -> None:
        self.conn.config_mode()
        out = self._answer_yes(f"configuration replace file {COMWARE_CHECKPOINT}")
        self.conn.exit_config_mode()
        if re.search(r"fail|error", out, re.I):
            raise RuntimeError(f"Comware configuration replace failed: {out[-2000:]}")
        self.conn.save_config()
        self._armed = None

    def pending(self) -> bool:
        # Comware shows no pending commit delay in a form parsed here: only this run's own is known.
        return self._armed is not None

    def bgp_established(self) -> dict[str, bool]:
        return self._bgp_tables("display bgp peer ipv4", "display bgp peer ipv6")

    def ping(self, address: str, source: str | None) -> tuple[bool, str]:
        v6 = ":" in address
        cmd = "ping ipv6" if v6 else "ping"
        cmd += " -c 2 -t 1000"
        if source:
            cmd += f" -a {source}"
        out = str(self.conn.send_command(f"{cmd} {address}", read_timeout=30))
        m = re.search(r"(\d+) packet\(s\) transmitted, (\d+) packet\(s\) received", out)
        if not m:
            return False, out.strip()[-200:]
        return int(m.group(2)) > 0, f"{m.group(2)}/{m.group(1)} replies"


class VrpAdapter(_VendorCli):
    """Huawei VRP V8 over Netmiko (huawei_vrpv8): two-stage configuration with a trial commit.

    commit: system-view, the config lines (into the candidate), then `commit trial <s>` when a confirm
    window is asked for (the device rolls back by itself when the timer ends) or a plain `commit` and
    `save`. confirm: `commit` in system-view ends the trial, then `save`. rollback: `abort trial` while a
    trial runs, else `rollback configuration last 1`. Not run against a real VRP device here: the
    command sequence is unit-tested against transcribed device output (tests/deploy/data/vrp-*.txt).
    """

    TRIAL_MIN, TRIAL_MAX = 60, 65535  # seconds accepted by `commit trial`
    _ERROR = re.compile(r"^\s*Error:.*$", re.M)

    def __init__(self, conn: Any, platform: str = "huawei_vrp", scope: StaticScope | None = None) -> None:
        super().__init__(conn, platform, scope)

    def revert_seconds(self, confirm_seconds: int | None) -> int | None:
        if confirm_seconds is None:
            return None
        return min(max(int(confirm_seconds), self.TRIAL_MIN), self.TRIAL_MAX)

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        lines = self.change_lines(intended)
        out = str(self.conn.send_config_set(lines, exit_config_mode=False, read_timeout=120))
        if m := self._ERROR.search(out):
            self._discard()
            raise RuntimeError(f"VRP rejected a command: {m.group(0).strip()}")
        revert_in = self.revert_seconds(confirm_seconds)
        cmd = f"commit trial {revert_in}" if revert_in is not None else "commit"
        out = str(self.conn.send_command_timing(cmd, read_timeout=120))
        if self._ERROR.search(out) or "Failed" in out:
            self._discard()
            raise RuntimeError(f"VRP `{cmd}` failed: {out.strip()[-500:]}")
        self.conn.exit_config_mode()
        self._armed = revert_in
        if revert_in is None:
            self._save()
        return revert_in

    def _discard(self) -> None:
        self.conn.send_command_timing("clear configuration candidate")
        self.conn.exit_config_mode()

    def _save(self) -> None:
        out = self._answer_yes("save")
        if "successfully" not in out.lower():
            raise RuntimeError(f"VRP save failed: {out.strip()[-300:]}")

    def confirm(self) -> None:
        if self._armed is not None:
            self.conn.config_mode()
            out = str(self.conn.send_command_timing("commit", read_timeout=120))
            self.conn.exit_config_mode()
            if self._ERROR.search(out):
                raise RuntimeError(f"VRP trial confirm failed: {out.strip()[-300:]}")
            self._armed = None
            self._save()

    def rollback(self) -> None:
        if self._armed is not None:
            self.conn.config_mode()
            out = self._answer_yes("abort trial")
            self.conn.exit_config_mode()
        else:
            out = self._answer_yes("rollback configuration last 1")
            self._save()
        if self._ERROR.search(out):
            raise RuntimeError(f"VRP rollback failed: {out.strip()[-300:]}")
        self._armed = None

    def pending(self) -> bool:
        out = str(self.conn.send_command("display configuration trial status"))
        return re.search(r"Trial\s+Status\s*:\s*Running|trial is running", out, re.I) is not None

    def bgp_established(self) -> dict[str, bool]:
        return self._bgp_tables("display bgp peer", "display bgp ipv6 peer")

    def ping(self, address: str, source: str | None) -> tuple[bool, str]:
        cmd = "ping ipv6" if ":" in address else "ping"
        cmd += " -c 2 -t 1000"
        if source:
            cmd += f" -a {source}" if ":" not in address else f" -s {source}"
        out = str(self.conn.send_command(f"{cmd} {address}", read_timeout=30))
        m = re.search(r"(\d+) packet\(s\) transmitted\s*\n?\s*(\d+) packet\(s\) received", out)
        if not m:
            return False, out.strip()[-200:]
        return int(m.group(2)) > 0, f"{m.group(2)}/{m.group(1)} replies"


# adapter names used by the registry's DeploySpec.adapter
def _nftables_adapter(conn: Any, platform: str) -> Any:
    """The firewall's ruleset artifact, over the FRR driver's SSH session (network/policy/nft_deploy.py)."""
    from network.policy.nft_deploy import CmdResult, NftRulesetAdapter

    def run(argv: list[str], stdin: str | None) -> CmdResult:
        r = conn._run(argv, privileged=True, stdin=stdin)
        return CmdResult(r.rc, r.out, r.err)

    return NftRulesetAdapter(run)


ADAPTERS: dict[str, Any] = {"napalm": NapalmAdapter, "comware": ComwareAdapter, "vrp": VrpAdapter,
                            "nftables": _nftables_adapter}


def config_lines(text: str, comment: str) -> list[str]:
    """Configuration lines to send: no blanks, no comment-only lines ("!" / "#")."""
    return [ln.rstrip() for ln in text.splitlines() if ln.strip() and ln.strip() not in (comment, "return")]


# A VRP / Comware banner: `header <kind> [information] <delimiter>text…<delimiter>`, its text any number of lines.
_BANNER = re.compile(r"^header\s+\S+(?:\s+information)?\s+([^\w\s])(.*)$")


def views_open(lines: list[str]) -> int:
    """How many views deep a VRP / Comware session is after `lines` were sent from system view: the sections the
    last line is nested in, by indentation (a line opens a view when the lines after it are indented under it).
    A banner's text lines are text, not commands. A last line that opens a view with nothing under it (a bare
    `bfd`) is not counted: one `quit` too few leaves the session where the device's own fallback to upper views
    applies, one too many would leave system view (on VRP, a question about the uncommitted candidate)."""
    commands: list[str] = []
    delimiter = ""
    for ln in lines:
        if delimiter:  # inside a banner's text
            delimiter = "" if delimiter in ln else delimiter
            continue
        if ln.lstrip().startswith("#"):  # a comment (the rendered header): no view
            continue
        commands.append(ln)
        if m := _BANNER.match(ln):
            delimiter = "" if m.group(1) in m.group(2) else m.group(1)
    indents = [len(ln) - len(ln.lstrip(" ")) for ln in commands]
    opened: list[int] = []  # the indentation of each open view's header line
    for i, indent in enumerate(indents):
        while opened and opened[-1] >= indent:
            opened.pop()
        if i + 1 < len(indents) and indents[i + 1] > indent:
            opened.append(indent)
    return len(opened)


# A top-level static route line of VRP and Comware: `ip route-static [vpn-instance V] DEST MASK|LEN NEXTHOP ...`.
_STATIC = re.compile(r"^(?:ip|ipv6) route-static\s")
# Where a static route's identity ends: its options (`description` runs to the end of the line).
_STATIC_OPTIONS = frozenset({"description", "preference", "tag", "track", "permanent", "no-advertise",
                             "no-install", "bfd", "inherit-cost", "name"})


def _static_words(line: str) -> list[str]:
    """A static route line's words up to its options: the route as the device spells it (what `undo` takes)."""
    words: list[str] = []
    for w in line.split():
        if w in _STATIC_OPTIONS:
            break
        words.append(w)
    return words


def _static_key(line: str) -> tuple[str, ...] | None:
    """A static route's identity (family, VPN instance, destination network, next hop), normalised so that one
    route spelled two ways is one route (`2001:DB8::` and `2001:db8::`, mask `255.255.255.0` and `24`, `NULL0`
    and `null0`); None for a line that is not a route (device-wide settings share the keyword:
    `ip route-static bfd …`, `default-bfd …`, `recursive-lookup …`, `fast-reroute …`): never undone."""
    words = _static_words(line)
    i, vrf = 2, ""
    if len(words) > 3 and words[2] == "vpn-instance":
        i, vrf = 4, words[3]
    if len(words) < i + 3:  # destination, mask and at least one next-hop word
        return None
    try:
        dest = ipaddress.ip_address(words[i])
        mask = words[i + 1]
        bits = int(mask) if mask.isdigit() else ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen
        net = ipaddress.ip_network(f"{dest}/{bits}", strict=False)
    except ValueError:
        return None
    if (words[0] == "ipv6") != (net.version == 6):
        return None
    hops = []
    for w in words[i + 2:]:
        try:
            hops.append(str(ipaddress.ip_address(w)))
        except ValueError:
            hops.append(w.lower())
    return (words[0], vrf, str(net), *hops)


@dataclass(frozen=True)
class StaticScope:
    """Which static routes a merge deploy may undo (running has them, the intended config does not): those to a
    destination the intended config routes (in the same VPN instance), or to one of ``prefixes`` (the global
    table's: the DR service addresses the device may announce, wherever they are active now); every one with
    ``prune`` (an operator's explicit `--prune-static-routes`). Any other route is an operator's: left alone."""

    prefixes: tuple[str, ...] = ()
    prune: bool = False

    @classmethod
    def of(cls, target: DeployTarget) -> StaticScope:
        return cls(tuple(target.owned_static_prefixes), target.prune_static_routes)

    def owned(self, intended_keys: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
        """(family, VPN instance, destination network) of every destination the plan owns."""
        out = {k[:3] for k in intended_keys}
        for p in self.prefixes:
            net = ipaddress.ip_network(p, strict=False)
            out.add(("ipv6" if net.version == 6 else "ip", "", str(net)))
        return out


def static_removals(running: str, intended: str, comment: str, scope: StaticScope | None = None) -> list[str]:
    """The top-level static route lines of running whose route the intended config does not have, and whose
    destination `scope` lets a deploy remove (default: only destinations the intended config routes)."""
    scope = scope or StaticScope()
    keep = {k for ln in config_lines(intended, comment) if _STATIC.match(ln) and (k := _static_key(ln)) is not None}
    owned = scope.owned(keep)
    return [ln for ln in config_lines(running, comment)
            if _STATIC.match(ln) and (k := _static_key(ln)) is not None and k not in keep
            and (scope.prune or k[:3] in owned)]


def undo_static_routes(running: str, intended: str, comment: str, scope: StaticScope | None = None) -> list[str]:
    """VRP / Comware commands removing those routes (the route alone: `undo` takes no description)."""
    return [f"undo {' '.join(_static_words(ln))}" for ln in static_removals(running, intended, comment, scope)]


def merge_diff(running: str, intended: str, comment: str, scope: StaticScope | None = None) -> str:
    """For merge platforms: the intended lines (under their parent section) absent from running, then the static
    routes running has and intended not that `scope` lets the deploy remove (`- ` lines: undone), in the order
    the commit sends them.

    A merge never removes lines, so a unified diff would promise deletions that will not happen; the static
    routes are the exception, undone by the adapters one by one (see the module's docstring).
    """
    have = _sections(running, comment)
    out: list[str] = []
    for parent, children in _sections(intended, comment).items():
        if parent not in have:
            out.append(f"+ {parent}")
            out += [f"+ {c}" for c in children]
            continue
        missing = [c for c in children if c not in have[parent]]
        if missing:
            out.append(f"  {parent}")
            out += [f"+ {c}" for c in missing]
    out += [f"- {ln}" for ln in static_removals(running, intended, comment, scope)]
    return "\n".join(out)


def _sections(text: str, comment: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    parent = ""
    for line in config_lines(text, comment):
        if not line.startswith(" "):
            parent = line
            sections.setdefault(parent, [])
        else:
            sections.setdefault(parent, []).append(line)
    return sections


def text_diff(hostname: str, running: str, intended: str, comment: str) -> str:
    """Unified diff running -> intended, ignoring blank/comment lines and trailing spaces (drift)."""
    a = config_lines(running, comment)
    b = config_lines(intended, comment)
    return "\n".join(difflib.unified_diff(a, b, f"{hostname} running", f"{hostname} intended", lineterm=""))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def canonical_address(addr: str) -> str:
    """Neighbour addresses compared in canonical form (fd20:0::1 == fd20::1)."""
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr  # an interface name (BGP unnumbered)
