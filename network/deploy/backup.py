"""backup(): every target's running config into a git repository, one commit per run.

Files are ``<hostname>.cfg`` at the top of the repository. Each run makes exactly one commit (also
when nothing changed: the commit is the record that the backup ran, and when), whose message names
the time, the scope and any device that could not be read. Secrets are masked by default: the
repository is an audit trail, not a secret store.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from nornir.core.task import Task

from core.threads import serialised
from network.deploy.model import BackupResult, DeployTarget, Progress
from network.deploy.platforms import deploy_spec, open_adapter
from network.deploy.runner import run_per_host
from network.drivers.frr_parse import sanitize as sanitize_frr

# Lines that change on every read without any configuration change (they would make every backup a diff).
_VOLATILE = re.compile(r"^(! Last configuration change at|! NVRAM config last updated at|ntp clock-period )")
# Cisco/Huawei/H3C secret lines; FRR has its own list in frr_parse.
_SECRET = re.compile(
    r"^(\s*(?:enable secret|enable password|username \S+ (?:privilege \d+ )?(?:secret|password)|"
    r"snmp-server community|snmp-agent community (?:read|write)|(?:local-user \S+ )?password "
    r"(?:cipher|irreversible-cipher|simple|hash)|key-string|pre-shared-key|tacacs-server key|radius-server key)"
    r"\s+)(\S.*)$"
)
_HOSTNAME_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def clean(platform: str, text: str, sanitize: bool) -> str:
    """Config text as stored: volatile lines dropped, secrets masked (when ``sanitize``)."""
    lines = [ln.rstrip() for ln in text.splitlines() if not _VOLATILE.match(ln)]
    if sanitize:
        if deploy_spec(platform).driver == "frr":
            lines = sanitize_frr("\n".join(lines)).split("\n")
        lines = [_SECRET.sub(r"\1<removed>", ln) for ln in lines]
    return "\n".join(lines).rstrip("\n") + "\n"


def backup(
    targets: Sequence[DeployTarget],
    repo_dir: str | os.PathLike[str],
    *,
    scope: str = "",
    sanitize: bool = True,
    progress: Progress | None = None,
    workers: int = 20,
    connect_timeout: float = 10.0,
    inventory_dir: str | os.PathLike[str] | None = None,
) -> BackupResult:
    """Fetch the running config of every target, write ``<hostname>.cfg`` into ``repo_dir`` and commit.

    ``repo_dir`` is created and ``git init``-ed if needed. Devices that fail are listed in the result
    and in the commit message; their previous file (if any) is left as it was.
    """
    t0 = time.monotonic()
    for t in targets:
        if not _HOSTNAME_FILE.fullmatch(t.hostname):
            raise ValueError(f"hostname {t.hostname!r} cannot be used as a file name")
    repo = Path(repo_dir)
    _ensure_repo(repo)
    say = serialised(progress)

    def work(task: Task, target: DeployTarget) -> tuple[str, str | None, str | None]:
        try:
            say(target.hostname, "reading running config")
            text = open_adapter(task, target).running()
            return target.hostname, clean(target.platform, text, sanitize), None
        except Exception as exc:
            return target.hostname, None, f"{type(exc).__name__}: {exc}"

    def crashed(target: DeployTarget, error: str) -> tuple[str, str | None, str | None]:
        return target.hostname, None, error

    rows = run_per_host(targets, work, workers=workers, connect_timeout=connect_timeout, on_crash=crashed,
                        inventory_dir=inventory_dir)
    result = BackupResult(repo=str(repo), commit=None)
    for hostname, text, error in rows:
        if text is None:
            result.failed[hostname] = error or "unknown error"
            say(hostname, f"backup failed: {error}")
            continue
        name = f"{hostname}.cfg"
        (repo / name).write_text(text, encoding="utf-8")
        result.written.append(name)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = f"backup {when} scope={scope or 'all'}: {len(result.written)} saved, {len(result.failed)} failed"
    body = "".join(f"failed {h}: {e}\n" for h, e in sorted(result.failed.items()))
    if result.written:
        _git(repo, "add", "--", *result.written)
    ident = _identity(repo)
    _git(repo, *ident, "commit", "--allow-empty", "-q", "-m", subject, *(["-m", body] if body else []))
    result.commit = _git(repo, "rev-parse", "HEAD").strip()
    result.seconds = round(time.monotonic() - t0, 3)
    return result


def _ensure_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    inside = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if inside.returncode != 0 or Path(inside.stdout.strip()).resolve() != repo.resolve():
        # Never commit backups into some enclosing repository (e.g. this project's own).
        _git(repo, "init", "-q")


def _identity(repo: Path) -> list[str]:
    """``-c user.*`` options for what the repository/user has not configured: a backup on a fresh host
    must not fail for want of a git identity."""
    ident: list[str] = []
    for key, value in (("user.name", "jinbao backup"), ("user.email", "jinbao-backup@localhost")):
        have = subprocess.run(["git", "-C", str(repo), "config", key], capture_output=True, check=False)
        if have.returncode != 0:
            ident += ["-c", f"{key}={value}"]
    return ident


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(a for a in args if not a.startswith('user.'))} in {repo} failed: {proc.stderr.strip()}"
        )
    return proc.stdout
