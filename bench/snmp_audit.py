"""Benchmark: the full SNMP compliance audit of N agents — the project's concurrent pysnmp checker against
net-snmp's `snmpget`/`snmpbulkget` called per agent sequentially and ezsnmp (net-snmp's C bindings)
sequentially, in the same run, on the same agents.

Agents: every agent of a running lab (`--lab NAME`, e.g. the tests' `jbck` or your `jinbao` lab) plus extra
snmpd agents on host loopback (127.0.0.x, one port each; started and stopped by PID) up to `--agents`
(default 200). One audit of an agent = what `jinbao check network` asks: sysName, sysLocation and ifNumber
(SNMPv3 authPriv), the planned interfaces' ifOperStatus and ifAlias (found by name in the ifName column, read
only as far as the planned names; each loopback agent plans 6 of the host's interfaces), BGP4-MIB peer states
when the plan has peers, and the two probes that must get nothing (v2c `public`, v3 noAuthNoPriv) with a 1 s
timeout. Sizes 10, 25, 50, 100, 200 show how time grows.

The sequential tools are measured on at most `--sequential-max` agents per size (each costs ~1 s: the v2c
probe must time out) and their time for N agents is extrapolated from their measured rate (said so).

    .venv/bin/python bench/snmp_audit.py [--lab jbck] [--agents 200] [--sequential-max 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.agent_pool import SnmpdPool  # noqa: E402
from checks.snmp import (  # noqa: E402
    BGP_PEER_STATE,
    IF_ALIAS,
    IF_DESCR,
    IF_NAME,
    IF_OPER,
    SYS_LOCATION,
    SYS_NAME,
    Credentials,
    poll,
)
from checks.snmp_rules import Expectation  # noqa: E402
from lab.spec import SnmpUser  # noqa: E402

SIZES = (10, 25, 50, 100, 200)


def lab_agents(lab: str | None) -> tuple[list[Expectation], Credentials | None]:
    if not lab:
        return [], None
    from checks.targets import lab_network

    net = lab_network(lab, None)
    return net.expectations, net.credentials


def host_interfaces(n: int = 6) -> dict[str, str]:
    """A plan for the loopback agents: `n` of the host's interfaces (lo first) with their current ifAlias, as a
    router's plan names its ports. Each loopback agent serves the host's whole ifTable (~12 rows on a quiet
    host, ~80 while a lab runs; the bench says how many); the planned ones come first, so the poller's first
    GETBULK finds them all and it reads no further, as on a lab router whose every interface is planned."""
    net = Path("/sys/class/net")
    ifs = sorted(net.iterdir(), key=lambda p: int((p / "ifindex").read_text()))
    out = {}
    for p in ifs[:n]:
        try:
            out[p.name] = (p / "ifalias").read_text().strip()
        except OSError:
            out[p.name] = ""
    return out


def default_credentials() -> Credentials:
    from network.secrets import LabTestSecrets

    s = LabTestSecrets()
    return Credentials("jinbao-nms", s.get("snmp_auth") or "", s.get("snmp_priv") or "")


# -- net-snmp command-line tools, one agent after the other --------------------------------------------
def _v3(c: Credentials) -> list[str]:
    return ["-v3", "-l", "authPriv", "-u", c.user, "-a", c.auth_proto, "-A", c.auth_key, "-x", c.priv_proto,
            "-X", c.priv_key, "-On", "-Oq", "-t", "3", "-r", "1"]


def snmpget_audit(e: Expectation, c: Credentials) -> bool:
    env = {"MIBS": "", "PATH": "/usr/bin:/bin"}
    peer = f"udp:{e.address}:{e.port}"
    # One GETBULK for what the checker reads: sysName/sysLocation as non-repeaters, then the columns sized
    # from the plan (the checker walks ifName and GETs the planned rows: about the same work for snmpbulkget).
    cols = [IF_DESCR, IF_NAME, IF_OPER, IF_ALIAS] + ([BGP_PEER_STATE] if e.bgp_peers_v4 else [])
    rows = max(len(e.interfaces) + 3, len(e.bgp_peers_v4) + 1, 4)
    r = subprocess.run(["snmpbulkget", *_v3(c), "-Cn2", f"-Cr{rows}", peer, SYS_NAME[:-2], SYS_LOCATION[:-2],
                        *cols], capture_output=True, text=True, env=env, check=False)
    ok = r.returncode == 0 and e.hostname in r.stdout
    v2c = subprocess.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0", peer, SYS_NAME],
                         capture_output=True, env=env, check=False).returncode == 0
    noauth = subprocess.run(["snmpget", "-v3", "-l", "noAuthNoPriv", "-u", c.user, "-t", "1", "-r", "0", peer,
                             SYS_NAME], capture_output=True, env=env, check=False).returncode == 0
    return ok and not v2c and not noauth


# -- ezsnmp, one agent after the other ---------------------------------------------------------------------
def ezsnmp_audit(e: Expectation, c: Credentials) -> bool:
    from ezsnmp import Session

    s = Session(hostname=e.address, port_number=e.port, version=3, security_level="authPriv",
                security_username=c.user, auth_protocol=c.auth_proto, auth_passphrase=c.auth_key,
                privacy_protocol=c.priv_proto, privacy_passphrase=c.priv_key, timeout=3, retries=1,
                print_oids_numerically=True)
    # ezsnmp's bulk_get has no non-repeaters: the scalars take one GET, the columns one GETBULK.
    r = s.get([SYS_NAME, SYS_LOCATION])
    ok = r[0].value == e.hostname
    s.set_max_repeaters_to_num = str(max(len(e.interfaces) + 3, len(e.bgp_peers_v4) + 1, 4))
    s.bulk_get([IF_DESCR, IF_NAME, IF_OPER, IF_ALIAS] + ([BGP_PEER_STATE] if e.bgp_peers_v4 else []))
    answered = []
    for kw in ({"version": 2, "community": "public"},
               {"version": 3, "security_level": "noAuthNoPriv", "security_username": c.user}):
        try:
            Session(hostname=e.address, port_number=e.port, timeout=1, retries=0, **kw).get([SYS_NAME])
            answered.append(True)
        except Exception:  # timeout or authorizationError: the agent gave nothing, as it must
            answered.append(False)
    return ok and not any(answered)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (snmpget): the figure load does not inflate."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def sequential(fn, exps: list[Expectation], c: Credentials, cap: int) -> dict[str, float | int | bool]:
    sample = exps[:cap]
    t, cpu = time.perf_counter(), _cpu()
    ok = sum(fn(e, c) for e in sample)
    dt, dcpu = time.perf_counter() - t, _cpu() - cpu
    rate = len(sample) / dt
    return {"measured_agents": len(sample), "measured_s": round(dt, 2), "agents_per_s": round(rate, 2),
            "cpu_ms_per_agent": round(1000 * dcpu / len(sample), 1),
            "seconds_for_n": round(len(exps) / rate, 2), "extrapolated": len(sample) < len(exps),
            "compliant": ok}


def verdicts(rows: list[dict]) -> dict[str, object]:
    """The issue's targets against the largest size measured, said plainly (met or not, with the figure)."""
    last = rows[-1]
    dt = last["pysnmp_concurrent"]["seconds"]
    out: dict[str, object] = {"agents": last["agents"],
                              "under_2_s": {"met": dt < 2.0, "seconds": dt}}
    for k in ("snmpget", "ezsnmp"):
        ratio = last.get(f"ratio_vs_{k}")
        if ratio is not None:
            need = 10.0 if k == "snmpget" else 1.0
            out[f"vs_{k}"] = {"met": ratio >= need, "ratio": ratio, "target": need,
                              "extrapolated": last[f"{k}_sequential"]["extrapolated"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default=None, help="a running lab whose agents are audited too")
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--sequential-max", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None,
                    help="poller processes (default: one per CPU this process may use; 1 = one event loop)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    lab_exps, creds = lab_agents(a.lab)
    creds = creds or default_credentials()
    extra = max(0, a.agents - len(lab_exps))
    user = SnmpUser(creds.user, creds.auth_key, creds.priv_key, creds.auth_proto, creds.priv_proto)
    rows = []
    with SnmpdPool(user) as pool:
        t = time.perf_counter()
        agents = pool.start([(f"JB-BENCH-AG{i:03d}", "bench agent on loopback") for i in range(extra)])
        started = time.perf_counter() - t
        plan = host_interfaces()
        exps = lab_exps + [Expectation(x.name, x.host, "DB", x.location, plan, port=x.port) for x in agents]
        host_rows = len(list(Path("/sys/class/net").iterdir()))
        print(f"{len(lab_exps)} lab agents ({a.lab or 'no lab'}) + {len(agents)} loopback snmpd agents "
              f"(started in {started:.1f} s; each serves the host's {host_rows} interfaces, {len(plan)} planned)",
              file=sys.stderr)
        have_ez = shutil.which("snmpget") is not None
        try:
            import ezsnmp  # noqa: F401
        except ImportError:
            have_ez = False
        for n in [s for s in SIZES if s <= len(exps)] or [len(exps)]:
            sub = exps[:n]
            t, cpu = time.perf_counter(), _cpu()
            answers = poll(sub, creds, workers=a.workers, negative_timeout=1.0)
            dt, dcpu = time.perf_counter() - t, _cpu() - cpu
            ok = sum(x.v3_ok and x.sys_name == e.hostname and set(x.interfaces) == set(e.interfaces)
                     and not x.v2c_public and not x.v3_noauth
                     for e, x in zip(sub, (answers[e.hostname] for e in sub), strict=True))
            row = {"agents": n, "pysnmp_concurrent": {"seconds": round(dt, 2), "agents_per_s": round(n / dt, 1),
                                                      "cpu_s": round(dcpu, 2),
                                                      "cpu_ms_per_agent": round(1000 * dcpu / n, 1),
                                                      "compliant": ok},
                   "load_avg_1m": round(os.getloadavg()[0], 1)}
            print(f"N={n}: pysnmp concurrent {dt:.2f} s ({n / dt:.0f} agents/s, CPU {dcpu:.2f} s), "
                  f"{ok}/{n} compliant; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            row["snmpget_sequential"] = sequential(snmpget_audit, sub, creds, a.sequential_max)
            row["ezsnmp_sequential"] = sequential(ezsnmp_audit, sub, creds, a.sequential_max) if have_ez else None
            for k in ("snmpget_sequential", "ezsnmp_sequential"):
                if row[k]:
                    row[f"ratio_vs_{k.split('_')[0]}"] = round(row[k]["seconds_for_n"] / dt, 1)
            rows.append(row)
    result = {"load_avg_1m": round(os.getloadavg()[0], 1), "cores": os.cpu_count(), "lab": a.lab,
              "lab_agents": len(lab_exps), "loopback_agents": extra,
              "host_interfaces": host_rows, "planned_interfaces": len(plan), "sizes": rows,
              "ezsnmp": "installed" if have_ez else "not installed", "targets": verdicts(rows)}
    if a.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{'agents':>6} {'pysnmp conc. s':>14} {'agents/s':>9} {'snmpget seq. s':>15} {'agents/s':>9} "
          f"{'ezsnmp seq. s':>14} {'agents/s':>9} {'x snmpget':>9} {'x ezsnmp':>9}")
    for r in rows:
        sg, ez = r["snmpget_sequential"], r["ezsnmp_sequential"] or {}
        print(f"{r['agents']:>6} {r['pysnmp_concurrent']['seconds']:>14} {r['pysnmp_concurrent']['agents_per_s']:>9} "
              f"{sg['seconds_for_n']:>14}{'*' if sg['extrapolated'] else ' '} {sg['agents_per_s']:>9} "
              f"{ez.get('seconds_for_n', '-'):>13}{'*' if ez.get('extrapolated') else ' '} "
              f"{ez.get('agents_per_s', '-'):>9} "
              f"{r.get('ratio_vs_snmpget', '-'):>9} {r.get('ratio_vs_ezsnmp', '-'):>9}")
    print(f"* extrapolated from {a.sequential_max} agents measured in the same run")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; pysnmp CPU per size: "
          + ", ".join(f"{r['agents']}: {r['pysnmp_concurrent']['cpu_s']} s" for r in rows)
          + "; sequential CPU per agent: snmpget "
          + f"{rows[-1]['snmpget_sequential']['cpu_ms_per_agent']} ms"
          + (f", ezsnmp {rows[-1]['ezsnmp_sequential']['cpu_ms_per_agent']} ms"
             if rows[-1]["ezsnmp_sequential"] else ""))
    v = result["targets"]
    print(f"targets at {v['agents']} agents: < 2 s: {'met' if v['under_2_s']['met'] else 'NOT met'} "
          f"({v['under_2_s']['seconds']} s); >= 10x snmpget sequential: "
          + (f"{'met' if v['vs_snmpget']['met'] else 'NOT met'} ({v['vs_snmpget']['ratio']}x)" if "vs_snmpget" in v
             else "not measured")
          + "; ahead of ezsnmp sequential: "
          + (f"{'yes' if v['vs_ezsnmp']['met'] else 'NO'} ({v['vs_ezsnmp']['ratio']}x)" if "vs_ezsnmp" in v
             else "not measured (ezsnmp not installed)"))
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["pysnmp_concurrent"]["seconds"] / first["pysnmp_concurrent"]["seconds"]
        scale = last["agents"] / first["agents"]
        print(f"pysnmp concurrent: {first['agents']} -> {last['agents']} agents ({scale:.0f}x) "
              f"takes {growth:.1f}x the time")


if __name__ == "__main__":
    main()
