"""The shared Debian 12 root filesystem every lab node overlays (built once, cached).

Built with ``debootstrap --variant=minbase --include=...`` from the host's own apt mirror, because
lab nodes have no route to any mirror: every package a node needs must already be in the base.
The cache lives in ``/var/cache/jinbao/lab-base/<key>/`` where ``<key>`` hashes the package list;
a build goes to a temporary directory that is renamed into place only after it completed, so a
half-built base is never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lab.sh import LabError, Progress, quiet

SUITE = "bookworm"
CACHE_ROOT = Path("/var/cache/jinbao/lab-base")
BASE_PACKAGES: tuple[str, ...] = (
    "frr",
    "frr-snmp",
    "frr-pythontools",
    "snmpd",
    "snmp",
    "openssh-server",
    "python3",
    "postgresql-15",
    "nftables",
    "chrony",
    "iproute2",
    "iputils-ping",
    "procps",
    "sudo",
    "less",
    # The server roles (playbooks/, roles/) install these with apt state=present and no cache update:
    # lab nodes have no mirror, so everything the roles need must already be here.
    "auditd",
    "rsyslog",
    "logrotate",
    "cron",
    "libpam-pwquality",
    "python3-apt",
    "python3-psycopg2",
    "python3-cryptography",
    "python3-cffi-backend",  # python3-cryptography needs it through a virtual package debootstrap cannot resolve
    "postgresql-15-pgaudit",
    "acl",
    "ssl-cert",
    "openssl",
)
# Bump when the customisation applied after debootstrap changes (it is part of the cache key).
LAYOUT_VERSION = 1
COMPLETE = "COMPLETE"
POLICY_RC_D = "#!/bin/sh\n# jinbao lab base: services are started by the node init, never by dpkg\nexit 101\n"


def base_key(packages: Sequence[str] = BASE_PACKAGES) -> str:
    """Cache key: a hash of the suite, variant, package list and customisation version."""
    blob = json.dumps(
        {"suite": SUITE, "variant": "minbase", "packages": sorted(set(packages)), "layout": LAYOUT_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_dir(packages: Sequence[str] = BASE_PACKAGES) -> Path:
    """Directory holding the cached base for this package list (``rootfs/`` plus the marker)."""
    return CACHE_ROOT / base_key(packages)


def rootfs(packages: Sequence[str] = BASE_PACKAGES) -> Path:
    """The root filesystem nodes use as their overlay lower layer."""
    return base_dir(packages) / "rootfs"


def is_built(packages: Sequence[str] = BASE_PACKAGES) -> bool:
    return (base_dir(packages) / COMPLETE).is_file()


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if fields:
            yield fields


def find_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = SUITE) -> str:
    """The Debian mirror URI the host's apt uses for ``suite`` (sources.list or deb822 .sources)."""
    env = os.environ.get("JINBAO_LAB_MIRROR")
    if env:
        return env
    candidates: list[Path] = []
    if (apt_dir / "sources.list").is_file():
        candidates.append(apt_dir / "sources.list")
    part = apt_dir / "sources.list.d"
    if part.is_dir():
        candidates += sorted(p for p in part.iterdir() if p.suffix in (".list", ".sources"))
    for path in candidates:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for st in _deb822_stanzas(text):
                if st.get("enabled", "yes").lower() == "no" or "deb" not in st.get("types", "").split():
                    continue
                if suite in st.get("suites", "").split():
                    return st["uris"].split()[0]
        else:
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 3 and words[0] == "deb":
                    rest = [w for w in words[1:] if not w.startswith("[")]
                    if len(rest) >= 2 and rest[1] == suite:
                        return rest[0]
    raise LabError(f"no apt source for {suite} found under {apt_dir}; set JINBAO_LAB_MIRROR")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _unmount_below(path: Path) -> None:
    """Unmount anything a crashed build left mounted below ``path`` (deepest first)."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as fh:
        points = [line.split()[1] for line in fh]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _customise(root: Path) -> None:
    """Make the fresh debootstrap tree a node base: no autostart, no shared identities."""
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(POLICY_RC_D)
    policy.chmod(0o755)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # every node gets its own host keys
    (root / "etc/machine-id").write_text("")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    (root / "etc/jinbao-lab-base").write_text(
        "This root filesystem is the jinbao lab node base (lab only; shared read-only by all nodes).\n"
    )


def build(packages: Sequence[str], dest: Path, mirror: str, progress: Progress = quiet) -> None:
    """Run debootstrap into ``dest`` (which must not exist), streaming progress lines.

    debootstrap runs in its own mount and PID namespace: the proc/sys mounts it makes and any process
    a maintainer script leaves behind disappear with it, even if the build is interrupted.
    """
    argv = [
        "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
        "--mount-proc",
        "debootstrap", "--variant=minbase", f"--include={','.join(sorted(set(packages)))}",
        "--components=main", SUITE, str(dest), mirror,
    ]  # fmt: skip
    progress(f"base: debootstrap {SUITE} from {mirror} ({len(packages)} packages), takes minutes")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    last = 0.0
    for line in proc.stdout:
        line = line.rstrip()
        tail = [*tail[-30:], line]
        # debootstrap prints one I: line per phase and package; throttle the per-package ones.
        now = time.monotonic()
        if line.startswith(("I: Retrieving", "I: Validating", "I: Extracting", "I: Unpacking",
                            "I: Configuring")) and now - last < 2.0:  # fmt: skip
            continue
        last = now
        progress(f"base: {line}")
    if proc.wait() != 0:
        raise LabError("debootstrap failed:\n" + "\n".join(tail))


def ensure_base(
    packages: Sequence[str] = BASE_PACKAGES, *, mirror: str | None = None, progress: Progress = quiet
) -> Path:
    """Return the cached base root filesystem for ``packages``, building it first if needed."""
    final = base_dir(packages)
    if is_built(packages):
        return final / "rootfs"
    with _locked(CACHE_ROOT / ".lock"):
        if is_built(packages):  # another process built it while we waited
            return final / "rootfs"
        for stale in CACHE_ROOT.glob(f".build-{final.name}-*"):
            progress(f"base: removing interrupted build {stale}")
            _unmount_below(stale)
            shutil.rmtree(stale)
        tmp = CACHE_ROOT / f".build-{final.name}-{os.getpid()}"
        tmp.mkdir(parents=True)
        started = time.monotonic()
        try:
            build(packages, tmp / "rootfs", mirror or find_mirror(), progress)
            _customise(tmp / "rootfs")
            seconds = round(time.monotonic() - started, 1)
            (tmp / COMPLETE).write_text(
                json.dumps({"packages": sorted(set(packages)), "suite": SUITE, "seconds": seconds}) + "\n"
            )
            if final.exists():  # incomplete leftover without marker
                shutil.rmtree(final)
            tmp.rename(final)
        except BaseException:
            _unmount_below(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        progress(f"base: built {final} in {seconds}s")
    return final / "rootfs"
