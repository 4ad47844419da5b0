"""NAPALM driver for FRRouting on Linux, over SSH (paramiko): ``vtysh`` for state, ``frr-reload.py`` for change.

Why paramiko and not an interactive (netmiko) channel: every operation here is one non-interactive
``exec`` with its own exit status and separate stdout/stderr, which is what frr-reload's error handling
needs (measured in the lab: long heredocs through an interactive channel break netmiko's echo handling), and
candidates travel by SFTP as files.

Config model (FRR has no candidate datastore; frr-reload.py computes and applies the difference):

- ``load_replace_candidate`` / ``load_merge_candidate`` keep the text on the controller.
- ``compare_config`` uploads it (SFTP, 0600, a random name in ``upload_dir``) and runs
  ``frr-reload.py --test``; for a merge the file tested is running + merge snippet, built on the router
  (frr-reload merges repeated contexts, and its two-pass reload lets later lines win).
- ``commit_config`` saves the running config as a rollback point, optionally arms a revert timer ON
  THE ROUTER (see network/drivers/frr_remote.py), then ``frr-reload.py --reload --stdout``.
- ``confirm_commit`` cancels the timer by its recorded PID and writes the config to frr.conf;
  ``rollback`` restores the checkpoint (pending commit) or the last rollback point.

optional_args:
    port (22), key_file, passphrase, known_hosts (file of trusted host keys, used with the user's
    ~/.ssh/known_hosts), host_key_checking (True: unknown host keys are refused), allow_agent,
    look_for_keys, ssh_config_file, privilege ("none" when logging in as root, or "sudo": every
    privileged command runs as ``sudo -n`` / ``sudo -S`` with sudo_password), sudo_password,
    command_timeout (120 s), probe_timeout (is_alive's no-op command, 10 s; given, also open()'s vtysh
    probe), frr_reload (/usr/lib/frr/frr-reload.py), vtysh (vtysh),
    frr_conf (/etc/frr/frr.conf), state_dir (/var/lib/jinbao-frr), upload_dir (/tmp).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import select
import shlex
import time
from dataclasses import dataclass
from typing import Any

import napalm.base
import paramiko
from napalm.base import constants as c
from napalm.base.exceptions import (
    CommandErrorException,
    CommitConfirmException,
    CommitError,
    ConnectionClosedException,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from network.drivers import frr_parse, frr_remote

PRIVILEGE_MODES = ("none", "sudo")
ALIVE_PROBE_S = 10.0  # is_alive's no-op command, unless probe_timeout says otherwise
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PendingCommitError(CommitError):  # type: ignore[misc]
    """A commit-confirm is still waiting on the router: nothing was changed (confirm or roll it back)."""


@dataclass
class CmdResult:
    """One remote command: exit status and both streams (decoded as UTF-8, replacing bad bytes)."""

    rc: int
    out: str
    err: str


# Subclassed by attribute, not imported by name: napalm's get_network_driver returns the first
# NetworkDriver subclass found in the module, and that must be this one, not the base class.
class FrrDriver(napalm.base.NetworkDriver):  # type: ignore[misc]  # napalm ships no type information
    """NAPALM driver for FRR (tested against FRR 8.4.4 on Debian 12)."""

    platform = "frr"

    def __init__(
        self,
        hostname: str,
        username: str,
        password: str | None = None,
        timeout: int = 60,
        optional_args: dict[str, Any] | None = None,
    ) -> None:
        opts = dict(optional_args or {})
        self.hostname = hostname
        self.username = username
        self.password = password or None
        self.timeout = timeout
        self._port_given = "port" in opts
        self.port = int(opts.get("port", 22))
        self.key_file: str | None = opts.get("key_file")
        self.passphrase: str | None = opts.get("passphrase")
        self.known_hosts: str | None = opts.get("known_hosts")
        self.host_key_checking = bool(opts.get("host_key_checking", True))
        self.allow_agent = bool(opts.get("allow_agent", self.key_file is None))
        self.look_for_keys = bool(opts.get("look_for_keys", self.key_file is None))
        self.ssh_config_file: str | None = opts.get("ssh_config_file")
        self.privilege = str(opts.get("privilege", "none"))
        if self.privilege not in PRIVILEGE_MODES:
            raise ValueError(f"privilege must be one of {PRIVILEGE_MODES}, not {self.privilege!r}")
        self.sudo_password: str | None = opts.get("sudo_password", self.password)
        self.command_timeout = float(opts.get("command_timeout", 120))
        # is_alive's no-op (10 s unless given): short, so a dead or half-open session is found in seconds; given
        # (a reconnect attempt inside a drill's window), open()'s vtysh probe too (else command_timeout)
        self.probe_timeout: float | None = float(opts["probe_timeout"]) if "probe_timeout" in opts else None
        self.frr_reload = str(opts.get("frr_reload", "/usr/lib/frr/frr-reload.py"))
        self.vtysh = str(opts.get("vtysh", "vtysh"))
        self.frr_conf = str(opts.get("frr_conf", "/etc/frr/frr.conf"))
        self.state_dir = str(opts.get("state_dir", "/var/lib/jinbao-frr"))
        self.upload_dir = str(opts.get("upload_dir", "/tmp"))
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._candidate: str | None = None
        self._mode = "replace"

    # -- connection ---------------------------------------------------------------------------
    def open(self) -> None:
        host, port, user, key_file = self.hostname, self.port, self.username, self.key_file
        if self.ssh_config_file and os.path.exists(os.path.expanduser(self.ssh_config_file)):
            # Honour Host blocks (HostName/Port/User/IdentityFile) as nornir's ssh config_file intends.
            cfg = paramiko.SSHConfig.from_path(os.path.expanduser(self.ssh_config_file)).lookup(self.hostname)
            host = cfg.get("hostname", host)
            port = port if self._port_given or "port" not in cfg else int(cfg["port"])
            user = user or cfg.get("user", "")
            key_file = key_file or (cfg.get("identityfile") or [None])[0]
        client = paramiko.SSHClient()
        client.load_system_host_keys()
        if self.known_hosts:
            client.load_host_keys(os.path.expanduser(self.known_hosts))
        # Refusing unknown keys is the default: a router's config (and its secrets) goes over this.
        client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if self.host_key_checking else paramiko.AutoAddPolicy()
        )
        try:
            client.connect(
                host,
                port=port,
                username=user,
                password=self.password,
                key_filename=key_file,
                passphrase=self.passphrase,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                allow_agent=self.allow_agent,
                look_for_keys=self.look_for_keys,
            )
        except (paramiko.SSHException, OSError) as exc:  # OSError covers timeouts and refusals
            client.close()
            raise ConnectionException(f"{self.hostname}: SSH to {host}:{port} failed: {exc}") from exc
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)  # a dead path shows up as a closed session, not a hang
        self._client = client
        # Fail at open, not half-way through a commit, if the account cannot run vtysh.
        probe = self._run([self.vtysh, "-c", "show version"], privileged=True, timeout=self.probe_timeout,
                          open_timeout=self.probe_timeout)  # None: command_timeout, the connect timeout
        if probe.rc != 0 or "FRRouting" not in probe.out:
            self.close()
            raise ConnectionException(f"{self.hostname}: vtysh not usable: {(probe.err or probe.out).strip()}")

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def is_alive(self) -> dict[str, bool]:
        """The session answers a no-op command within probe_timeout. The transport's own flag is not enough: a
        half-open session (the peer or the path gone without a FIN) stays "active" until keepalives give up,
        and a commit sent on it would hang for command_timeout."""
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            return {"is_alive": False}
        try:
            wait = self.probe_timeout or ALIVE_PROBE_S
            res = self._run(["true"], timeout=wait, open_timeout=wait)
        except (ConnectionClosedException, CommandErrorException):
            return {"is_alive": False}
        return {"is_alive": res.rc == 0}

    # -- remote execution -----------------------------------------------------------------------
    def _wrap(self, argv: list[str], privileged: bool) -> tuple[str, bytes | None]:
        """The command line to send and the stdin to feed (sudo's password) for the chosen privilege."""
        cmd = shlex.join(argv)
        if not privileged or self.privilege == "none":
            return cmd, None
        if self.sudo_password:
            # -S reads the password from stdin, -p '' keeps sudo's prompt out of stderr.
            return "sudo -S -p '' -- " + cmd, (self.sudo_password + "\n").encode()
        return "sudo -n -- " + cmd, None

    def _run(self, argv: list[str], *, privileged: bool = False, timeout: float | None = None,
             stdin: str | None = None, open_timeout: float | None = None) -> CmdResult:
        if self._client is None:
            raise ConnectionClosedException(f"{self.hostname}: not connected (call open())")
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionClosedException(f"{self.hostname}: SSH session is closed")
        cmd, feed = self._wrap(argv, privileged)
        if stdin is not None:  # after sudo's password line, if any: the command's own input
            feed = (feed or b"") + stdin.encode()
        limit = timeout or self.command_timeout
        try:
            chan = transport.open_session(timeout=open_timeout or self.timeout)
            chan.exec_command(cmd)
            if feed:
                chan.sendall(feed)
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + limit
            # Drain both streams as they come: reading one to its end first can stall the other
            # once the SSH window fills.
            while True:
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                drained = not chan.recv_ready() and not chan.recv_stderr_ready()
                if drained and chan.exit_status_ready() and (chan.eof_received or chan.closed):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    chan.close()
                    raise CommandErrorException(f"{self.hostname}: {argv[0]} timed out after {limit:.0f}s")
                select.select([chan], [], [], min(left, 0.5))
            rc = chan.recv_exit_status()
            chan.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ConnectionClosedException(f"{self.hostname}: SSH failed during {argv[0]}: {exc}") from exc
        return CmdResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _vtysh(self, *commands: str) -> str:
        argv = [self.vtysh]
        for command in commands:
            argv += ["-c", command]
        res = self._run(argv, privileged=True)
        if res.rc != 0:
            raise CommandErrorException(f"{self.hostname}: vtysh {commands}: {(res.err or res.out).strip()}")
        return res.out

    def _vtysh_json(self, command: str) -> Any:
        text = self._vtysh(command)
        return json.loads(text) if text.strip() else {}

    def _op(self, op: str, *args: str, timeout: float | None = None) -> CmdResult:
        """Run one operation of the device-side state machine (frr_remote.LIB) under its lock."""
        argv = ["sh", "-c", frr_remote.LIB, "jinbao-frr", op, self.state_dir, self.frr_reload, self.vtysh,
                self.frr_conf, *args]  # fmt: skip
        res = self._run(argv, privileged=True, timeout=timeout)
        if res.rc == frr_remote.EXIT_LOCKED:
            raise CommandErrorException(f"{self.hostname}: {res.err.strip()}")
        return res

    def _upload(self, text: str) -> str:
        """Put ``text`` in a fresh 0600 file in upload_dir (SFTP, as the login user); return its path."""
        if self._client is None:
            raise ConnectionClosedException(f"{self.hostname}: not connected")
        if self._sftp is None:
            self._sftp = self._client.open_sftp()
        path = f"{self.upload_dir.rstrip('/')}/jinbao-frr-{secrets.token_hex(8)}.conf"
        with self._sftp.open(path, "wx") as fh:  # "x": never write through someone else's file
            fh.chmod(0o600)
            fh.write(text if text.endswith("\n") else text + "\n")
        return path

    def _remove(self, path: str) -> None:
        if self._sftp is not None:
            # best effort: a leftover 0600 file in upload_dir is harmless and named as ours
            with contextlib.suppress(OSError):
                self._sftp.remove(path)

    # -- getters --------------------------------------------------------------------------------
    def get_facts(self) -> dict[str, Any]:
        # One round trip: version, interfaces, uptime, kernel, serial (empty if unreadable).
        script = (
            f"{shlex.quote(self.vtysh)} -c 'show version' && echo @@JB@@ && "
            f"{shlex.quote(self.vtysh)} -c 'show interface json' && echo @@JB@@ && "
            "cut -d' ' -f1 /proc/uptime && echo @@JB@@ && uname -srm && echo @@JB@@ && "
            "cat /sys/class/dmi/id/product_serial 2>/dev/null; true"
        )
        res = self._run(["sh", "-c", script], privileged=True)
        parts = res.out.split("@@JB@@\n")
        if res.rc != 0 or len(parts) != 5:
            raise CommandErrorException(f"{self.hostname}: get_facts failed: {res.err.strip()}")
        version, hostname = frr_parse.parse_version(parts[0])
        interfaces = json.loads(parts[1])
        return {
            "uptime": float(parts[2].strip()),
            "vendor": "FRRouting",
            "os_version": version,
            "serial_number": parts[4].strip(),
            "model": f"FRRouting on {parts[3].strip()}",
            "hostname": hostname,
            "fqdn": hostname,
            "interface_list": sorted(interfaces),
        }

    def get_interfaces(self) -> dict[str, dict[str, Any]]:
        return frr_parse.parse_interfaces(self._vtysh_json("show interface json"))

    def get_interfaces_ip(self) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
        return frr_parse.parse_interfaces_ip(self._vtysh_json("show interface json"))

    def get_bgp_neighbors(self) -> dict[str, dict[str, Any]]:
        out = self._vtysh("show bgp vrf all summary json", "show bgp vrf all neighbors json")
        # vtysh prints the two JSON documents one after the other.
        decoder = json.JSONDecoder()
        summary, end = decoder.raw_decode(out.lstrip())
        rest = out.lstrip()[end:].lstrip()
        neighbors = decoder.raw_decode(rest)[0] if rest else {}
        return frr_parse.parse_bgp_neighbors(summary, neighbors)

    def get_config(
        self, retrieve: str = "all", full: bool = False, sanitized: bool = False, format: str = "text"
    ) -> dict[str, str]:
        if format != "text":
            raise NotImplementedError("FRR configuration is text only")
        config = {"running": "", "startup": "", "candidate": ""}
        if retrieve in ("all", "running"):
            # "show running-config" without the vtysh header: the same text frr-reload reads.
            config["running"] = frr_parse.strip_running_header(self._vtysh("show running-config"))
        if retrieve in ("all", "startup"):
            res = self._run(["cat", self.frr_conf], privileged=True)
            if res.rc != 0:
                raise CommandErrorException(f"{self.hostname}: cannot read {self.frr_conf}: {res.err.strip()}")
            config["startup"] = res.out
        if retrieve in ("all", "candidate"):
            config["candidate"] = self._candidate or ""
        if sanitized:
            config = {k: frr_parse.sanitize(v) for k, v in config.items()}
        return config

    def ping(
        self,
        destination: str,
        source: str = c.PING_SOURCE,
        ttl: int = c.PING_TTL,
        timeout: int = c.PING_TIMEOUT,
        size: int = c.PING_SIZE,
        count: int = c.PING_COUNT,
        vrf: str = c.PING_VRF,
        source_interface: str = c.PING_SOURCE_INTERFACE,
    ) -> dict[str, Any]:
        # -i 0.2: two probes take 0.2 s instead of 1 s (0.2 s is the fastest iputils allows non-root).
        argv = ["ping", "-n", "-c", str(count), "-W", str(timeout), "-i", "0.2", "-s", str(size), "-t", str(ttl)]
        if source or source_interface:
            argv += ["-I", source or source_interface]
        argv.append(destination)
        if vrf:
            argv = ["ip", "vrf", "exec", vrf, *argv]
        res = self._run(argv, privileged=bool(vrf), timeout=count * (timeout + 1) + 10)
        return frr_parse.parse_ping(res.out + res.err, res.rc)

    # -- configuration --------------------------------------------------------------------------
    def _load(self, filename: str | None, config: str | None, mode: str) -> None:
        exc = ReplaceConfigException if mode == "replace" else MergeConfigException
        if filename is not None:
            with open(filename, encoding="utf-8") as fh:
                config = fh.read()
        if config is None:
            raise exc("give filename or config")
        self._candidate, self._mode = config, mode

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load(filename, config, "replace")

    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load(filename, config, "merge")

    def discard_config(self) -> None:
        self._candidate, self._mode = None, "replace"

    def compare_config(self) -> str:
        if self._candidate is None:
            return ""
        path = self._upload(self._candidate)
        try:
            res = self._op("test", path, self._mode)
        finally:
            self._remove(path)
        if res.rc != 0:
            # A candidate vtysh cannot parse still gets a "diff" (deleting everything) from --test,
            # with exit status 1: never show that as a diff.
            exc = ReplaceConfigException if self._mode == "replace" else MergeConfigException
            raise exc(f"{self.hostname}: frr-reload --test failed: {_errors(res)}")
        return frr_parse.compact_reload_diff(res.out).rstrip("\n")

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        if self._candidate is None:
            raise CommitError(f"{self.hostname}: no candidate loaded")
        if revert_in is not None and int(revert_in) < 1:
            raise CommitConfirmException("revert_in must be at least 1 second")
        path = self._upload(self._candidate)
        try:
            res = self._op(
                "commit", path, self._mode, str(int(revert_in or 0)), message.replace("\n", " "),
                frr_remote.REVERT_SCRIPT,
            )  # fmt: skip
        finally:
            self._remove(path)
        if res.rc == frr_remote.EXIT_PENDING:
            raise PendingCommitError(f"{self.hostname}: {res.err.strip()}")
        if res.rc != 0:
            # frr-reload may have applied part of the change; with revert_in the router reverts on its
            # own, without it the caller should rollback().
            raise CommitError(f"{self.hostname}: frr-reload --reload failed (rc {res.rc}): {_errors(res)}")
        self.discard_config()

    def confirm_commit(self) -> None:
        res = self._op("confirm")
        if res.rc == frr_remote.EXIT_NOTHING:
            raise CommitConfirmException(f"{self.hostname}: no pending commit (already reverted or confirmed)")
        if res.rc != 0:
            raise CommitConfirmException(f"{self.hostname}: confirm failed: {_errors(res)}")

    def has_pending_commit(self) -> bool:
        res = self._op("pending")
        if res.rc not in (0, frr_remote.EXIT_NOTHING):
            raise CommandErrorException(f"{self.hostname}: cannot read commit state: {_errors(res)}")
        return res.rc == 0

    def rollback(self) -> None:
        res = self._op("rollback")
        if res.rc == frr_remote.EXIT_NOTHING:
            raise ReplaceConfigException(f"{self.hostname}: nothing to roll back to")
        if res.rc != 0:
            raise CommitError(f"{self.hostname}: rollback failed (rc {res.rc}): {_errors(res)}")


def _errors(res: CmdResult) -> str:
    """The lines of frr-reload/vtysh output that say what went wrong (not its INFO chatter)."""
    text = _ANSI.sub("", res.err + "\n" + res.out)  # frr-reload colours its ERROR tag
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    bad = [ln for ln in lines if "INFO:" not in ln and "DEBUG:" not in ln]
    keep = [ln for ln in bad if any(k in ln for k in ("ERROR", "%", "failed", "jinbao-frr", "Unknown"))]
    return " | ".join((keep or bad or lines)[-8:])[:2000] or f"exit status {res.rc}"
