"""Deploy engine: dry-run, commit-confirm with post-checks and rollback, backup to git, drift.

Independent of how targets were found: callers build ``DeployTarget``s (from the inventory, a plan
or by hand) and get ``DeviceResult``/``DriftResult``/``BackupResult`` back. See docs/deploy.md.
"""

from network.deploy.backup import backup
from network.deploy.drift import drift
from network.deploy.engine import Staged, deploy
from network.deploy.model import (
    PLATFORMS,
    REMOVING,
    BackupResult,
    CheckResult,
    DeployTarget,
    DeviceResult,
    DriftResult,
    PostCheck,
    Progress,
)

__all__ = [
    "PLATFORMS",
    "REMOVING",
    "BackupResult",
    "CheckResult",
    "DeployTarget",
    "DeviceResult",
    "DriftResult",
    "PostCheck",
    "Progress",
    "Staged",
    "backup",
    "deploy",
    "drift",
]
