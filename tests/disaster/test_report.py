"""The drill report: verdicts against the targets, JSON and HTML written whole."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from pathlib import Path

from dr.measure import Ack, figures
from dr.report import DrillReport, default_targets, write


def _report(lost: set[int], kind: str = "failover", mode: str = "sync") -> DrillReport:
    r = DrillReport("140100-DC", kind, mode, "JB-140100-DC-DB01", "JB-140000-DR-DB01", started=100.0)
    s = r.begin("pre-checks")
    s.started = 100.0
    r.end(s, True, "lag 0 bytes")
    s.ended = 100.4
    s2 = r.begin("promote <replica>")
    s2.started = 101.0
    r.end(s2, True)
    s2.ended = 101.2
    acks = [Ack(1, "a", 100.5), Ack(2, "a", 100.9), Ack(3, "b", 102.0)]
    r.figures = figures(acks, "a", "b", {1, 2, 3} - lost)
    r.targets = default_targets(kind, mode)
    r.close()
    return r


def test_sync_failover_that_lost_a_commit_fails() -> None:
    assert _report(set()).outcome == "passed"
    bad = _report({2})
    assert bad.verdicts() == {"rto": True, "rpo": False} and bad.outcome == "failed"


def test_async_failover_has_no_rpo_target() -> None:
    r = _report({2}, mode="async")
    assert r.verdicts() == {"rto": True} and r.outcome == "passed" and r.figures and r.figures.rpo_commits == 1


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids |= {v for k, v in attrs if k == "id" and v}

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_files_are_written_and_escaped(tmp_path: Path) -> None:
    j, h = write(_report({2}), tmp_path)
    data = json.loads(j.read_text())
    assert data["outcome"] == "failed" and data["figures"]["lost"] == [2] and data["verdicts"]["rpo"] is False
    p = _Text()
    p.feed(h.read_text())
    text = " ".join(p.text)
    assert {"outcome", "figures", "steps"} <= p.ids
    assert "promote <replica>" in text  # the step name, escaped in the markup and read back as text
    assert "<replica>" not in h.read_text()
    assert "MISSED" in text and "1 commits" in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_steps_are_changed_and_read_under_one_lock() -> None:
    """A drill writes its steps from the playbook's events and from the service address's threads at once:
    every change (begin, end, discard) and every read for the report waits for the others."""
    import threading

    from dr import report as report_mod

    r = DrillReport("140000-DC", "switchover", "async", "a", "b")
    first = r.begin("pre-checks")
    done: list[str] = []
    with report_mod._STEPS:  # another thread is reading or changing the steps
        calls = [lambda: r.begin("service address: withdraw"), lambda: r.end(first, True),
                 lambda: r.discard(first), r.as_dict, lambda: report_mod.render_html(r)]
        threads = [threading.Thread(target=lambda c=c: (c(), done.append("x"))) for c in calls]
        for t in threads:
            t.start()
        time.sleep(0.3)
        assert done == []  # all of them wait
    for t in threads:
        t.join(5)
    assert len(done) == len(calls)
