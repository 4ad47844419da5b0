"""Benchmark: provisioning (issue 12 item 8), both halves in one run.

1. VMs on VMware's vSphere simulator (bench/provision_vms.py): concurrent clone pipelines vs one at a time,
   then the idempotent second run.
2. playbooks/site.yml on the lab's servers (bench/provision_servers.py): first build and idempotent second run
   at the project's settings (forks 20, pipelining) beside Ansible's defaults (forks 5, no pipelining).

    .venv/bin/python bench/provision.py [--only vms|servers]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("vms", "servers"))
    args, rest = ap.parse_known_args()
    rc = 0
    for half in ("vms", "servers"):
        if args.only in (None, half):
            print(f"== {half}", flush=True)
            rc |= subprocess.call([sys.executable, str(HERE / f"provision_{half}.py"), *rest], cwd=HERE.parent)
    return rc


if __name__ == "__main__":
    sys.exit(main())
