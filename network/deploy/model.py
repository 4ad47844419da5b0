"""Data the deploy engine takes and returns. Plain dataclasses: no inventory, no Nornir types.

A ``DeployTarget`` says everything needed to reach one device and what it should run; how targets
were found (inventory, plan, a hand-written list) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from inventory.platforms import deployable

PLATFORMS: tuple[str, ...] = deployable()  # inventory platform names (inventory/platforms.py)
Status = Literal["unchanged", "dry-run", "committed", "rolled-back", "failed", "skipped"]
CheckKind = Literal["bgp_established", "reachable"]
# progress(hostname, message); called from worker threads, but never two calls at once.
Progress = Callable[[str, str], None]
# A progress message naming one thing a commit is about to remove (a static route on a merge platform), said
# before the commit: `REMOVING + line` (jinbao deploy prints these, not only shows them in its status line).
REMOVING = "removing: "


@dataclass(frozen=True)
class PostCheck:
    """A condition that must hold after a commit, checked from the device itself.

    - ``bgp_established``: every address in ``targets`` is a BGP neighbour in state Established
      (any VRF).
    - ``reachable``: every address in ``targets`` answers a ping sent by the device (FRR:
      ``ping -c 2 -W 1``), from ``source`` (address or interface) if given.
    """

    kind: CheckKind
    targets: tuple[str, ...]
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("bgp_established", "reachable"):
            raise ValueError(f"unknown post-check kind {self.kind!r}")
        if isinstance(self.targets, str):  # a lone address passed by mistake: do not iterate its characters
            object.__setattr__(self, "targets", (self.targets,))
        object.__setattr__(self, "targets", tuple(self.targets))

    @classmethod
    def bgp_established(cls, *neighbors: str) -> PostCheck:
        return cls("bgp_established", tuple(neighbors))

    @classmethod
    def reachable(cls, *addresses: str, source: str | None = None) -> PostCheck:
        return cls("reachable", tuple(addresses), source)


@dataclass(frozen=True)
class CheckResult:
    """One post-check target's outcome in the last round of checks."""

    kind: CheckKind
    target: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class DeployTarget:
    """One device: how to reach it and the full configuration it should run.

    ``password`` (and any secret in ``options``) should come from the environment or a vault, never
    from a file in the repository. ``known_hosts`` names a file of trusted SSH host keys (the user's
    own ~/.ssh/known_hosts is also read); unknown host keys are refused. ``options`` are passed to the
    driver as NAPALM optional_args (or Netmiko arguments for h3c_comware), e.g.
    ``{"privilege": "sudo"}`` for an FRR router reached as a non-root user.
    """

    hostname: str
    platform: str
    host: str
    username: str
    key_file: str | None
    config_text: str
    post_checks: list[PostCheck] = field(default_factory=list)
    # sha256 of config_text when the platform's validator passed it (network.validate.validated_sha256):
    # the engine refuses to push a config whose text does not carry a matching stamp.
    validated_sha256: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int = 22
    known_hosts: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # The device this target is an artifact of, when a device carries several (a firewall's FRR config and
    # its zone ruleset `<hostname>:ruleset`): the engine applies one device's artifacts one after the other,
    # in the order given. Empty: the target is a device of its own (``hostname``).
    device: str = ""
    # Merge platforms (VRP, Comware) undo a static route running has and config_text lacks only when its destination
    # is the plan's: one config_text routes, or one of these (global table: the DR service addresses the device may
    # announce). prune_static_routes: undo every such route, an operator's included (`--prune-static-routes`).
    owned_static_prefixes: tuple[str, ...] = ()
    prune_static_routes: bool = False

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"{self.hostname}: platform {self.platform!r} not in {PLATFORMS}")

    @property
    def device_name(self) -> str:
        return self.device or self.hostname


@dataclass
class DeviceResult:
    """What happened on one device.

    status: ``unchanged`` (no difference), ``dry-run`` (difference shown, nothing changed),
    ``committed`` (applied, post-checks passed, confirmed), ``rolled-back`` (applied, then restored
    because a post-check or the confirm failed: see ``error``), ``failed`` (nothing applied, or the
    device state is uncertain: see ``error``), ``skipped`` (not attempted because an earlier artifact of the
    same device failed or was rolled back: see ``error``).
    """

    hostname: str
    status: Status
    diff: str = ""
    error: str | None = None
    seconds: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    # Seconds per phase (connect, diff, commit, checks, confirm, rollback): where the time went.
    timings: dict[str, float] = field(default_factory=dict)
    # Seconds of the revert timer armed ON the device (None: no device-side timer for this commit).
    device_revert_in: int | None = None
    # What the commit removes besides the merge (merge platforms: the static routes it undoes, as sent).
    removals: list[str] = field(default_factory=list)


@dataclass
class BackupResult:
    """One backup run: the files written, the git commit made, and the devices that failed."""

    repo: str
    commit: str | None
    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class DriftResult:
    """Intended versus running configuration of one device. ``in_sync`` is None when it failed."""

    hostname: str
    in_sync: bool | None
    diff: str = ""
    error: str | None = None
    method: str = ""  # "frr-reload --test", "napalm compare_config" or "text"
