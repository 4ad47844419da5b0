"""Check an frr.conf with FRR's own parser: `vtysh --dryrun -f FILE`.

Found by trying on FRR 8.4.4 (Debian 12), see docs/templates.md:
- `vtysh --dryrun -f FILE` (alias `-C`) parses the file with every daemon's command grammar compiled into
  vtysh, without connecting to any daemon: no running FRR, no `-N` pathspace, no root filesystem needed.
  Exit status 0 = valid; non-zero (2) = at least one bad line, each reported as
  `line N: % Unknown command[..]: TEXT` (or another `% ...` parser message).
- It checks syntax and node context (a `neighbor` line outside `router bgp` is an unknown command);
  it does not check references (a route-map that is used but never defined passes).
- `frr-reload.py --test` is not a checker: it needs running daemons to diff against, and its own
  validation step calls the same `vtysh --dryrun`.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import JinbaoError
from core.findings import Finding
from network.validate.findings import finding

_LINE = re.compile(r"^line (\d+): (% .*?)(?:\[\d+\])?:\s*(.*)$")


class FrrCheckerUnavailable(JinbaoError, RuntimeError):
    """vtysh is not installed (run scripts/setup-host.sh)."""


def vtysh_path() -> str:
    path = shutil.which("vtysh") or ("/usr/bin/vtysh" if os.path.exists("/usr/bin/vtysh") else None)
    if path is None:
        raise FrrCheckerUnavailable("vtysh not found: FRR is not installed (run scripts/setup-host.sh)")
    return path


def validate_frr(config: str | Path, timeout: float = 60.0) -> list[Finding]:
    """Run FRR's parser on a config (text, or the path of a file). Empty list = FRR accepts it.

    A `Path`, or a one-line `str` naming an existing file, is checked in place; any other `str` is
    configuration text (a one-line config such as "hostname x" is never an existing file name).
    """
    vtysh = vtysh_path()
    if isinstance(config, Path):
        return _run(vtysh, config, timeout)
    if "\n" not in config and config.strip() and Path(config).is_file():
        return _run(vtysh, Path(config), timeout)
    # vtysh reads a file; a private temp dir keeps concurrent checks apart.
    with tempfile.TemporaryDirectory(prefix="jinbao-frr-check-") as tmp:
        path = Path(tmp) / "frr.conf"
        path.write_text(config if config.endswith("\n") else config + "\n", encoding="utf-8")
        return _run(vtysh, path, timeout)


def validate_frr_many(configs: list[str], timeout: float = 300.0) -> list[list[Finding]]:
    """Check many configs with one `vtysh --dryrun` run (a process start costs ~90 ms; thousands add up).

    Each config is followed by `end`, which returns the parser to the top node, so no config's lines are
    read in another's context; findings are mapped back to their config with config-relative line numbers.
    """
    if len(configs) <= 1:
        return [validate_frr(c, timeout) for c in configs]
    vtysh = vtysh_path()
    starts: list[int] = []
    parts: list[str] = []
    line = 1
    for c in configs:
        body = c if c.endswith("\n") else c + "\n"
        starts.append(line)
        parts.append(body + "end\n")
        line += body.count("\n") + 1
    with tempfile.TemporaryDirectory(prefix="jinbao-frr-check-") as tmp:
        path = Path(tmp) / "frr.conf"
        path.write_text("".join(parts), encoding="utf-8")
        findings = _run(vtysh, path, timeout)
    out: list[list[Finding]] = [[] for _ in configs]
    for f in findings:
        m = re.match(r"line (\d+): (.*)$", f.message)
        if m is None:  # not attributable to one config: check each on its own
            return [validate_frr(c, timeout) for c in configs]
        n = int(m.group(1))
        i = bisect.bisect_right(starts, n) - 1
        out[i].append(finding(f.rule, f"line {n - starts[i] + 1}: {m.group(2)}"))
    return out


def _run(vtysh: str, path: Path, timeout: float) -> list[Finding]:
    proc = subprocess.run([vtysh, "--dryrun", "-f", str(path)], capture_output=True, text=True,
                          timeout=timeout, check=False)
    output = (proc.stdout + proc.stderr).splitlines()
    findings: list[Finding] = []
    seen: set[str] = set()
    for raw in output:
        line = raw.strip()
        if not line or line in seen:
            continue  # vtysh prints each error on both stdout and stderr
        seen.add(line)
        m = _LINE.match(line)
        if m:
            findings.append(finding("frr-syntax", f"line {m.group(1)}: {m.group(2)}: {m.group(3).strip()}"))
        elif line.startswith("%") or "error" in line.lower():
            findings.append(finding("frr-syntax", line))
    if proc.returncode != 0 and not findings:
        findings.append(finding("frr-syntax", f"vtysh --dryrun exited {proc.returncode}: {' '.join(output)[:300]}"))
    return findings
