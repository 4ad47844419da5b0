"""What a ferry state directory says: batches sent (sender), delivered and quarantined (receiver)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from network.ferry import journal, receiver, sender


def summarise(state: Path) -> dict:
    out: dict = {"state": str(state)}
    if (state / sender.JOURNAL).exists():
        rounds = sender.rounds_done(state)
        out["sender"] = {"batches": len(rounds),
                         "refused": [{"batch": b, "reason": r} for b, (_k, r) in
                                     sorted(sender.invalid_batches(state).items())],
                         "rounds": {name: {"key": k, "rounds": r} for name, (k, r) in sorted(rounds.items())}}
    if (state / receiver.JOURNAL).exists() or (state / receiver.STATUS).exists():
        recs = journal.load(state / receiver.JOURNAL)
        delivered = [r for r in recs if r.get("event") == "delivered"]
        hooks: dict[str, dict] = {}
        for r in recs:
            if r.get("event") == "hook":
                hooks[r["batch_id"]] = r
        live = None
        with contextlib.suppress(OSError, json.JSONDecodeError):
            live = json.loads((state / receiver.STATUS).read_text())
        ids = [r["batch_id"] for r in delivered]
        out["receiver"] = {
            "delivered": len(delivered),
            "delivered_twice": sorted({b for b in ids if ids.count(b) > 1}),
            "batches": [{"batch_id": r["batch_id"], "at": r["at"], "bytes": r.get("bytes")} for r in delivered],
            "quarantined": [{"dir": r["dir"], "reason": r["reason"], "final": r.get("final", True)}
                            for r in recs if r.get("event") == "quarantined"],
            "hook_failed": sorted(b for b, r in hooks.items() if not r.get("ok")),
            "live": live,
        }
    return out
