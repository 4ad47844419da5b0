"""Reports: the JSON contract, JUnit, and the HTML report checked in a real browser (headless Chromium):
text, trend against the previous run, and layout (sections in order, tables full width, no overflow)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

from checks.catalogue import default_catalogue
from checks.report import history_path, to_json, to_junit, write_html
from checks.results import Result
from jinbao.indexcheck import chromium, run_chromium

CAT = default_catalogue()


def results(v3_fail: bool, bgp_fail: bool) -> list[Result]:
    rows = []
    for host in ("JB-140100-DC-WR01", "JB-140000-DC-WR01", "JB-140100-DC-DB01"):
        site = "-".join(host.split("-")[1:3])
        rows.append(Result(host, "JB-NET-SNMP-SYSNAME", "8.1.5.4", "pass", f"sysName='{host}'", site, "snmp"))
    rows.append(Result("JB-140100-DC-WR01", "JB-NET-SNMP-V3-ONLY", "8.1.4.1", "fail" if v3_fail else "pass",
                       "v2c community 'public' answered" if v3_fail else "ok", "140100-DC", "snmp"))
    rows.append(Result("JB-140000-DC-WR01", "JB-NET-SNMP-BGP-PEERS", "8.1.2.1", "fail" if bgp_fail else "pass",
                       "not established: 100.100.104.1: active" if bgp_fail else "2 IPv4 peers established",
                       "140000-DC", "snmp"))
    rows.append(Result("JB-140100-DC-DB01", "JB-NET-SNMP-SYSLOCATION", "8.1.5.4", "error",
                       "no SNMPv3 authPriv answer from 100.127.0.9: timeout", "140100-DC", "snmp"))
    return rows


def test_json_and_junit_contracts() -> None:
    rs = results(True, False)
    data = to_json(rs)
    assert set(data["results"][0]) == {"node", "control", "clause", "status", "evidence"}
    assert data["summary"] == {"pass": 4, "fail": 1, "error": 1}
    root = ET.fromstring(to_junit(rs).split("?>", 1)[1])
    assert root.get("tests") == "6" and root.get("failures") == "1" and root.get("errors") == "1"
    case = root.find(".//testcase[failure]")
    assert case is not None and case.get("name") == "JB-140100-DC-WR01"


def test_trend_against_previous_run(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    first = write_html(html, results(v3_fail=True, bgp_fail=False), CAT, "run 1")
    assert first["previous"] is None
    second = write_html(html, results(v3_fail=False, bgp_fail=True), CAT, "run 2")
    assert second["fixed"] == ["JB-140100-DC-WR01|JB-NET-SNMP-V3-ONLY"]
    assert second["newly_failing"] == ["JB-140000-DC-WR01|JB-NET-SNMP-BGP-PEERS"]
    assert len(history_path(html).read_text().splitlines()) == 2


LAYOUT_JS = """<script>
const box = s => { const e = document.querySelector(s); const r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, width: r.width}; };
const tables = [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().width);
document.body.setAttribute('data-layout', JSON.stringify({
  verdict: box('#verdict'), totals: box('#totals'), trend: box('#trend'), sites: box('#sites'),
  clauses: box('#clauses'), failures: box('#failures'), tables: tables, viewport: window.innerWidth,
  scroll: document.documentElement.scrollWidth,
  verdictBg: getComputedStyle(document.querySelector('#verdict')).backgroundColor}));
</script></body>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium as make run's index check runs it; no chromium fails (`make setup` installs it)."""
    return run_chromium(chromium(), *args)


def test_html_report_in_headless_chromium(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    write_html(html, results(v3_fail=True, bgp_fail=False), CAT, "first")
    write_html(html, results(v3_fail=False, bgp_fail=True), CAT, "jinbao compliance report")
    png = tmp_path / "report.png"
    r = _chromium(f"--screenshot={png}", html.as_uri())
    assert png.exists(), r.stderr[-2000:]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1280, 1600)
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one

    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", LAYOUT_JS), encoding="utf-8")
    dom = _chromium("--dump-dom", probe.as_uri()).stdout
    text = dom.replace("&amp;", "&")
    for words in ("FAIL: some checks did not pass", "fail 1", "error 1", "Summary per site", "140000-DC",
                  "8.1.2.1", "安全通信网络/网络架构", "uncovered", "not established: 100.100.104.1: active",
                  "Newly failing: 1", "Fixed since: 1", "JB-140100-DC-WR01|JB-NET-SNMP-V3-ONLY"):
        assert words in text, words
    layout = json.loads(dom.split("data-layout=\"", 1)[1].split("\"", 1)[0].replace("&quot;", "\""))
    order = [layout[k]["top"] for k in ("verdict", "totals", "trend", "sites", "clauses", "failures")]
    assert order == sorted(order) and len(set(order)) == len(order), layout
    assert all(w > 0.9 * (layout["viewport"] - 48) for w in layout["tables"]), layout
    assert layout["scroll"] <= layout["viewport"], "the report overflows horizontally"
    assert layout["verdictBg"] == "rgb(248, 216, 216)"  # the failing verdict is shown red
