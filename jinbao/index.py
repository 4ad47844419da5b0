"""`out/index.html`: one page that links every report of a `make run` and shows the headline figures.

Pure apart from listing `out/`: only files that exist are linked (relative links, so the directory can be
copied or served anywhere), and a step that did not run says so instead of showing a figure. A target a step
measured and missed without failing (the DR drill's RTO under load) is said at the top, under the verdict.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from jinbao.labrun import LabRun

# (section, file or glob, what it is), in the order of the run
REPORTS: tuple[tuple[str, str, str], ...] = (
    ("Run", "summary.md", "every step with its figures and timing"),
    ("Run", "summary.json", "the same, for automation (failed_step on failure)"),
    ("IP plan", "ipplan.md", "IP registration table"),
    ("IP plan", "ipplan.json", "IP registration table (JSON)"),
    ("IP plan", "netbox/*.csv", "NetBox import files, in import order"),
    ("Configurations", "configs/manifest.json", "rendered configurations of every router (LAB-ONLY secrets)"),
    ("Verification", "verify.json", "static verification of the routing plan"),
    ("Verification", "policy-verify.json", "zone policy proved on every firewall site and platform"),
    ("Diagrams", "diagram-*.svg", "network diagrams"),
    ("Lab", "vsphere.json", "server VMs provisioned on the vSphere simulator"),
    ("Lab", "servers-recap.txt", "playbooks/site.yml play recap"),
    ("Lab", "servers.json", "playbooks/site.yml result (JSON)"),
    ("Lab", "deploy.json", "commit-confirm deployment of every router, firewall and ruleset"),
    ("Lab", "routing.json", "BGP sessions and reachability in the lab"),
    ("Lab", "isolation.json", "zone isolation by traffic"),
    ("Compliance", "compliance.html", "MLPS 2.0 level-3 compliance report"),
    ("Compliance", "compliance.json", "compliance results (JSON)"),
    ("Compliance", "compliance.junit.xml", "compliance results (JUnit)"),
    ("DR", "dr/drill-*-switchover.html", "DR switchover drill report (timeline, RTO, RPO)"),
    ("DR", "dr/drill-*-failback.html", "DR failback drill report"),
    ("DR", "dr/drill-*.json", "DR drill reports (JSON)"),
    ("DR", "dr/replication-recap.txt", "playbooks/dr/replication.yml play recap (the pair's replication build)"),
    ("Ferry", "ferry.json", "one-way ferry transfer of the day's pension macro-analysis upload, and its load into"
     " the decision database (rows, contributors per region)"),
)

CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600}.ok{background:#d8f0dc}.bad{background:#f8d8d8}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}
.fig{border:1px solid #ccc;border-radius:6px;padding:10px}.fig b{display:block;font-size:22px}
.fig.na b{color:#999;font-size:16px}.fig.miss{border:2px solid #d08a00;background:#fff3d6}
.fig.bad{border:2px solid #b00;background:#f8d8d8}.warn{background:#ffe9b8}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
code{background:#f3f3f3;padding:0 3px}"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _figure(label: str, value: str | None, note: str = "", state: str = "") -> str:
    """One headline figure; `state`: '' (measured), 'miss' (a target missed), 'bad' (the step failed)."""
    if value is None:
        return f'<div class="fig na"><span>{_e(label)}</span><b>not run</b><small>{_e(note)}</small></div>'
    cls = f"fig {state}".strip()
    return f'<div class="{cls}"><span>{_e(label)}</span><b>{_e(value)}</b><small>{_e(note)}</small></div>'


DR_LABEL = "DR switchover RTO / RPO"


def _dr(d: dict[str, Any] | None, failed: str | None) -> tuple[str, str | None, str, str]:
    """The switchover's RTO and RPO against their targets, the load it ran under, and the failback."""
    if failed == "dr-drill":
        return (DR_LABEL, "failed", "the drill failed: the verdict above names the step; its report is below", "bad")
    if failed == "dr-build":
        return (DR_LABEL, "failed", "the replication build failed: the verdict above says why", "bad")
    if not d:
        return (DR_LABEL, None, "the run stopped before the drill", "")
    rto = "met" if d["rto_met"] else "TARGET MISSED"
    note = (f"RTO target < {d['rto_target_s']:g} s: {rto} (load average {d['load_1m']}); RPO target "
            f"{d['rpo_target_commits']} commits; {d['pair']} ({d['mode']}); failback {d['failback']} "
            f"(RTO {d['failback_rto_s']} s{'' if d['failback_rto_met'] else ', TARGET MISSED'}, "
            f"RPO {d['failback_rpo_commits']})")
    missed = not (d["rto_met"] and d["failback_rto_met"])
    return (DR_LABEL, f"{d['rto_s']} s / {d['rpo_commits']} commits", note, "miss" if missed else "")


def headline(figures: dict[str, dict[str, Any]], failed: str | None = None,
             ) -> list[tuple[str, str | None, str, str]]:
    """(label, value or None when the step did not run, note, state) for the top of the page."""
    r, i, c, f = (figures.get(k) for k in ("routing", "isolation", "compliance", "ferry"))
    rows: list[tuple[str, str | None, str]] = [
        ("BGP sessions up", r and r["sessions"], "planned sessions Established"),
        ("Reachability", r and r["reachable"], "ministry to every loopback and business host"),
        ("Isolation probes", i and f"{i['pass']} pass / {i['fail']} fail", "zone to zone, by traffic"),
        ("Compliance score", c and f"{c['score_pct']} %", (c and f"{c['pass']} of {c['results']} checks pass"
                                                            + (f"; {c['servers']} servers by testinfra" if "servers"
                                                               in c else "")) or ""),
        ("Ferry throughput", f and f"{f['throughput_mbit_s']} Mbit/s",
         (f and f"{f['bytes']} bytes in {f['transfer_s']} s, sender start to verified delivery") or ""),
        ("Decision DB rows loaded", str(f["rows_loaded"]) if f and "rows_loaded" in f else None,
         f"{f['regions']} regions, jb_decision on the decision server" if f and "regions" in f else ""),
    ]
    out = [(label, value, note, "") for label, value, note in rows]
    out.insert(4, _dr(figures.get("dr-drill"), failed))
    return out


def _info(s: dict[str, Any]) -> str:
    return ", ".join(f"{k} {'; '.join(map(str, v)) or 'none' if isinstance(v, list) else v}"
                     for k, v in s.items() if k not in ("step", "seconds"))


def render_index(out_dir: Path, steps: list[dict[str, Any]], figures: dict[str, dict[str, Any]], lab: LabRun,
                 failed: str | None, error: str) -> str:
    ok = failed is None
    verdict = ("all steps passed" if ok else f"FAILED at step {failed}: {' '.join(error.split())}")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>jinbao run</title><style>{CSS}</style>"
             "</head><body><h1>jinbao run — the whole job</h1>",
             f'<p id="verdict" class="verdict {"ok" if ok else "bad"}">{_e(verdict)}</p>',
             *(f'<p class="verdict warn targets-missed">Target missed ({_e(s["step"])}): {_e(m)} — a measured '
               "result under this load, not a failed step</p>" for s in steps for m in s.get("targets_missed") or []),
             f"<p>Lab <code>{_e(lab.name)}</code>, slice <code>{_e(lab.slice)}</code>, management network "
             f"<code>{_e(lab.mgmt_net)}</code> ({'kept up: KEEP_LAB=1' if lab.keep else 'torn down after the run'})"
             "</p>", '<h2>Headline figures</h2><div id="figures" class="figs">']
    parts += [_figure(*f) for f in headline(figures, failed)]
    parts.append('</div><h2>Steps</h2><table id="steps"><tr><th>step</th><th>seconds</th><th>result</th></tr>')
    for s in steps:
        parts.append(f"<tr><td>{_e(s['step'])}</td><td>{s['seconds']}</td><td>{_e(_info(s))}</td></tr>")
    if failed:
        parts.append(f"<tr><td>{_e(failed)}</td><td></td><td><b>failed</b>: {_e(error)}</td></tr>")
    parts.append('</table><h2>Reports</h2><table id="reports"><tr><th>section</th><th>file</th><th>what</th></tr>')
    for section, pattern, what in REPORTS:
        for path in sorted(out_dir.glob(pattern)):
            rel = path.relative_to(out_dir).as_posix()
            parts.append(f'<tr><td>{_e(section)}</td><td><a href="{_e(quote(rel))}">{_e(rel)}</a></td>'
                         f"<td>{_e(what)}</td></tr>")
    parts.append("</table></body></html>\n")
    return "".join(parts)
