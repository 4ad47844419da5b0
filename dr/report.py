"""A drill's record: its steps on a timeline, the measured figures, the verdict; JSON and a readable page.

The drill runner (playbooks/dr/* through ansible-runner) appends steps as they start and end; the witness
gives the figures. Writing is atomic, so a report on disk is always a whole one.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.fsutil import atomic_write_text
from dr.measure import Figures


@dataclass
class Step:
    name: str
    started: float
    ended: float | None = None
    ok: bool | None = None
    detail: str = ""


@dataclass
class Targets:
    """What the drill must achieve (issue targets by default: switchover RPO 0, RTO < 5 s; failover RTO < 10 s;
    sync mode RPO 0 under failover)."""

    rto_s: float
    rpo_commits: int | None  # None: no RPO target (asynchronous failover loses what it loses, and says so)


# The steps are written from more than one thread during a drill (the playbook's events, and the service
# address's withdrawal and announcement beside them): one lock for every change and every read of them. A
# module-level lock, not a field: asdict() deep-copies fields, and a lock cannot be copied.
_STEPS = threading.RLock()


@dataclass
class DrillReport:
    site: str
    kind: str  # switchover | failover | failback
    mode: str  # async | sync
    primary: str
    replica: str
    started: float = field(default_factory=time.time)
    finished: float | None = None
    steps: list[Step] = field(default_factory=list)
    figures: Figures | None = None
    targets: Targets | None = None
    outcome: str = "running"  # running | passed | failed | aborted
    reason: str = ""
    # what the drill did with the pair's service address and the state record (docs/dr.md), in words
    service_address: str = ""

    def begin(self, name: str) -> Step:
        with _STEPS:
            step = Step(name, time.time())
            self.steps.append(step)
            return step

    def end(self, step: Step, ok: bool, detail: str = "") -> None:
        with _STEPS:
            step.ended, step.ok, step.detail = time.time(), ok, detail

    def discard(self, step: Step) -> None:
        """A step that turned out not to have run (an all-skipped task) leaves the timeline."""
        with _STEPS:
            self.steps.remove(step)

    def verdicts(self) -> dict[str, bool]:
        if self.figures is None or self.targets is None:
            return {}
        out = {"rto": self.figures.rto_s < self.targets.rto_s}
        if self.targets.rpo_commits is not None:
            out["rpo"] = self.figures.rpo_commits <= self.targets.rpo_commits
        return out

    def close(self, outcome: str | None = None, reason: str = "") -> None:
        self.finished = time.time()
        failed_step = any(s.ok is False for s in self.steps)
        self.outcome = outcome or ("failed" if failed_step or not all(self.verdicts().values()) else "passed")
        self.reason = reason

    def as_dict(self) -> dict[str, Any]:
        with _STEPS:  # a consistent copy, even while a phase's thread still adds its step
            d = asdict(self)
        d["figures"] = self.figures.as_dict() if self.figures else None
        d["verdicts"] = self.verdicts()
        return d


def default_targets(kind: str, mode: str) -> Targets:
    if kind == "failover":
        return Targets(rto_s=10.0, rpo_commits=0 if mode == "sync" else None)
    return Targets(rto_s=5.0, rpo_commits=0)


_ENV = Environment(loader=PackageLoader("dr", "templates"), autoescape=select_autoescape(["html", "j2"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(report: DrillReport) -> str:
    with _STEPS:
        steps = [dataclasses.replace(s) for s in report.steps]  # a snapshot: a phase's thread may still write
    t0 = report.started
    t1 = max([report.finished or t0, *[s.ended or s.started for s in steps]])
    span = max(t1 - t0, 1e-6)
    bars = [{"step": s, "left": 100 * (s.started - t0) / span,
             "width": max(100 * ((s.ended or t1) - s.started) / span, 0.5),
             "at": s.started - t0, "took": (s.ended or t1) - s.started} for s in steps]
    return _ENV.get_template("report.html.j2").render(
        r=report, bars=bars, span=span, verdicts=report.verdicts(),
        when=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(report.started)))


def write(report: DrillReport, out_dir: Path) -> tuple[Path, Path]:
    """`drill-<site>-<kind>.json` and `.html` in `out_dir`."""
    stem = Path(out_dir) / f"drill-{report.site}-{report.kind}"
    j, h = stem.with_suffix(".json"), stem.with_suffix(".html")
    atomic_write_text(j, json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(h, render_html(report))
    return j, h
