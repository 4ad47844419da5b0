"""RTO and RPO of a drill, computed from what a writer saw acknowledged and what the new primary holds.

Pure. The writer (``dr/writer.py``) records every commit the database acknowledged, with the server that
acknowledged it (its ``cluster_name``) and the wall-clock time of the acknowledgement:
- RTO: last acknowledged write at the old primary -> first acknowledged write at the new one; what an
  application saw as "no writes possible".
- RPO: acknowledged commits missing on the new primary (the data a client was told was safe and is not),
  and the seconds of data they span (first lost acknowledgement -> last acknowledgement at the old primary).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.errors import JinbaoError


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    server: str  # cluster_name of the server that acknowledged the commit
    t: float  # wall-clock seconds (time.time()) when the commit returned


@dataclass(frozen=True, slots=True)
class Figures:
    old: str
    new: str
    acks_old: int
    acks_new: int
    last_ack_old: float
    first_ack_new: float
    rto_s: float
    rpo_commits: int
    rpo_s: float
    lost: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["lost"] = list(self.lost)
        return d


class MeasureError(JinbaoError, ValueError):
    """The acknowledgement log cannot give figures (no write at one side: the drill did not happen)."""


def figures(acks: list[Ack], old: str, new: str, survivors: set[int]) -> Figures:
    """`survivors`: the sequence numbers the new primary holds after the drill."""
    at_old = [a for a in acks if a.server == old]
    at_new = [a for a in acks if a.server == new]
    if not at_old:
        raise MeasureError(f"no write was acknowledged by the old primary {old!r}")
    if not at_new:
        raise MeasureError(f"no write was acknowledged by the new primary {new!r}")
    last_old = max(a.t for a in at_old)
    first_new = min(a.t for a in at_new)
    lost = sorted(a.seq for a in at_old if a.seq not in survivors)
    first_lost = min((a.t for a in at_old if a.seq not in survivors), default=last_old)
    return Figures(old, new, len(at_old), len(at_new), last_old, first_new, round(first_new - last_old, 4),
                   len(lost), round(last_old - first_lost, 4) if lost else 0.0, tuple(lost))
