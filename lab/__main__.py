"""Manual use: ``python -m lab up SPEC.json | down LAB | status LAB | exec LAB NODE CMD...``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lab import runtime
from lab.spec import LabSpec


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("up", "down", "status", "exec"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, arg = argv[0], argv[1]
    if cmd == "up":
        spec = LabSpec.from_dict(json.loads(Path(arg).read_text()))
        print(json.dumps(runtime.up(spec, progress=lambda m: print(m, file=sys.stderr)), indent=2))
    elif cmd == "down":
        print(json.dumps(runtime.down(arg, progress=lambda m: print(m, file=sys.stderr)), indent=2))
    elif cmd == "status":
        for row in runtime.status(arg):
            missing = ",".join(row["missing"])
            print(f"{row['name']:<20} {row['role']:<14} {row['mgmt_ip']:<16} {row['state']} {missing}")
    else:
        result = runtime.exec(arg, argv[2], argv[3:], timeout=None)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
