"""Reports of a check run: JSON (the automation contract), JUnit XML (CI), HTML (auditors) with the trend
against the previous run. Pure rendering; files are written atomically by the caller's helpers here.

The previous run is the last line of `<report>.history.jsonl` next to the HTML file (one line per run:
time, totals and every (node, control) status), so the trend needs no database.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from checks.catalogue import Catalogue
from checks.results import Result
from core.fsutil import atomic_write_text

STATUSES = ("pass", "fail", "error")


def to_json(results: Sequence[Result]) -> dict[str, Any]:
    return {"results": [{"node": r.node, "control": r.control, "clause": r.clause, "status": r.status,
                         "evidence": r.evidence} for r in results],
            "summary": dict(Counter(r.status for r in results))}


def to_junit(results: Sequence[Result], name: str = "jinbao check") -> str:
    """One testsuite per control; one testcase per node (a failure/error carries the evidence)."""
    suites = ET.Element("testsuites", name=name, tests=str(len(results)),
                        failures=str(sum(r.status == "fail" for r in results)),
                        errors=str(sum(r.status == "error" for r in results)))
    by_control: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_control[r.control].append(r)
    for control, rows in sorted(by_control.items()):
        s = ET.SubElement(suites, "testsuite", name=control, tests=str(len(rows)),
                          failures=str(sum(r.status == "fail" for r in rows)),
                          errors=str(sum(r.status == "error" for r in rows)))
        for r in rows:
            tc = ET.SubElement(s, "testcase", classname=f"{r.clause}.{control}", name=r.node)
            if r.status == "fail":
                ET.SubElement(tc, "failure", message=r.evidence[:200]).text = r.evidence
            elif r.status == "error":
                ET.SubElement(tc, "error", message=r.evidence[:200]).text = r.evidence
            else:
                ET.SubElement(tc, "system-out").text = r.evidence
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# -- history / trend -------------------------------------------------------------------------------
def history_path(html_file: Path) -> Path:
    return html_file.with_name(html_file.name + ".history.jsonl")


def snapshot(results: Sequence[Result], when: str | None = None) -> dict[str, Any]:
    return {"time": when or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "totals": {s: sum(r.status == s for r in results) for s in STATUSES},
            "status": {f"{r.node}|{r.control}": r.status for r in results}}


def previous_run(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None  # a damaged history only loses the trend, never the report


def append_history(path: Path, snap: dict[str, Any]) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    atomic_write_text(path, old + json.dumps(snap, ensure_ascii=False) + "\n")


def trend(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    if before is None:
        return {"previous": None, "delta": {}, "newly_failing": [], "fixed": []}
    delta = {s: now["totals"][s] - before["totals"].get(s, 0) for s in STATUSES}
    newly = sorted(k for k, v in now["status"].items() if v != "pass" and before["status"].get(k) == "pass")
    fixed = sorted(k for k, v in now["status"].items() if v == "pass" and before["status"].get(k) in ("fail", "error"))
    return {"previous": before["time"], "delta": delta, "newly_failing": newly, "fixed": fixed}


# -- HTML ------------------------------------------------------------------------------------------
def _counts(rows: Iterable[Result]) -> Counter[str]:
    return Counter(r.status for r in rows)


def _tr(cells: Iterable[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _bar(c: Counter[str]) -> str:
    total = sum(c.values()) or 1
    return "".join(f'<span class="seg {s}" style="width:{100 * c[s] / total:.1f}%"></span>' for s in STATUSES if c[s])


CSS = """
body{font-family:"WenQuanYi Zen Hei",sans-serif;margin:24px;color:#222}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{border:1px solid #ddd;padding:4px 6px;text-align:left}
th{background:#f2f2f2} .verdict{font-size:20px;padding:10px;border-radius:4px;display:inline-block}
.verdict.ok{background:#d8f0d8} .verdict.bad{background:#f8d8d8}
.bar{display:flex;width:160px;height:12px;background:#eee} .seg{display:block;height:12px}
.seg.pass,.tot.pass{background:#3a3} .seg.fail,.tot.fail{background:#c33} .seg.error,.tot.error{background:#e90}
tr.fail td{background:#fff4f4} tr.uncovered td{color:#999} .tot{color:#fff;padding:2px 8px;border-radius:3px}
"""


def to_html(results: Sequence[Result], cat: Catalogue, title: str, tr: dict[str, Any]) -> str:
    c = _counts(results)
    ok = c["fail"] == 0 and c["error"] == 0 and bool(results)
    e = html.escape
    parts = [f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<div id='verdict' class='verdict {'ok' if ok else 'bad'}'>"
             f"{'PASS: every check passed' if ok else 'FAIL: some checks did not pass'}</div>",
             "<p id='totals'>" + " ".join(f"<span class='tot {s}'>{s} {c[s]}</span>" for s in STATUSES) + "</p>"]
    # trend
    parts.append("<h2 id='trend'>Trend against the previous run</h2>")
    if tr["previous"] is None:
        parts.append("<p>No previous run recorded.</p>")
    else:
        d = tr["delta"]
        parts.append(f"<p>Previous run {e(tr['previous'])}: " + ", ".join(f"{s} {d[s]:+d}" for s in STATUSES) + "</p>")
        for label, key in (("Newly failing", "newly_failing"), ("Fixed since", "fixed")):
            items = tr[key]
            parts.append(f"<p>{label}: {len(items)}" + (" — " + e(", ".join(items[:20])) if items else "") + "</p>")
    # per site
    parts.append("<h2 id='sites'>Summary per site</h2><table><tr><th>site</th><th>nodes</th>"
                 "<th>pass</th><th>fail</th><th>error</th><th></th></tr>")
    by_site: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_site[r.site or "-"].append(r)
    for site, rows in sorted(by_site.items()):
        k = _counts(rows)
        parts.append(_tr([e(site), str(len({r.node for r in rows})), str(k["pass"]), str(k["fail"]), str(k["error"]),
                          f"<div class='bar'>{_bar(k)}</div>"], "fail" if k["fail"] or k["error"] else ""))
    parts.append("</table>")
    # per clause (every clause of the standard, covered or not)
    parts.append("<h2 id='clauses'>Summary per MLPS 2.0 clause (GB/T 22239-2019, level 3)</h2><table><tr>"
                 "<th>clause</th><th>requirement</th><th>controls</th><th>pass</th><th>fail</th><th>error</th></tr>")
    by_clause: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_clause[r.clause].append(r)
    for row in cat.coverage():
        rows = by_clause.get(row["clause"], [])
        k = _counts(rows)
        ctl = ", ".join(x["id"] for x in row["controls"]) or "uncovered"
        cls = "uncovered" if not row["covered"] else ("fail" if k["fail"] or k["error"] else "")
        parts.append(_tr([row["clause"], e(f"{row['zh']} ({row['en']})"), e(ctl), str(k["pass"]), str(k["fail"]),
                          str(k["error"])], cls))
    parts.append("</table>")
    # failing evidence
    bad = [r for r in results if r.status != "pass"]
    parts.append(f"<h2 id='failures'>Failing evidence ({len(bad)})</h2>")
    if bad:
        parts.append("<table><tr><th>node</th><th>control</th><th>clause</th><th>status</th><th>evidence</th>"
                     "<th>remediation</th></tr>")
        for r in sorted(bad, key=lambda x: (x.site, x.node, x.control)):
            try:
                rem = cat.control(r.control).remediation.text()
            except KeyError:
                rem = ""
            parts.append(_tr([e(r.node), e(r.control), r.clause, r.status, e(r.evidence), e(rem)], "fail"))
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(path: Path, results: Sequence[Result], cat: Catalogue, title: str) -> dict[str, Any]:
    """Write the report and record this run in its history; returns the trend shown."""
    hist = history_path(path)
    snap = snapshot(results)
    tr = trend(snap, previous_run(hist))
    atomic_write_text(path, to_html(results, cat, title, tr))
    append_history(hist, snap)
    return tr
