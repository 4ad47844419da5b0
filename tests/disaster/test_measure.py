"""RTO/RPO arithmetic on hand-made acknowledgement logs."""

from __future__ import annotations

import pytest

from dr.measure import Ack, MeasureError, figures


def test_figures_count_lost_commits_and_their_span() -> None:
    acks = [Ack(1, "a", 10.0), Ack(2, "a", 10.5), Ack(3, "a", 11.0), Ack(5, "b", 14.0), Ack(6, "b", 14.1)]
    f = figures(acks, "a", "b", survivors={1, 5, 6})
    assert (f.rto_s, f.rpo_commits, f.lost, f.rpo_s) == (3.0, 2, (2, 3), 0.5)


def test_nothing_lost_is_rpo_zero() -> None:
    f = figures([Ack(1, "a", 1.0), Ack(2, "b", 1.2)], "a", "b", survivors={1, 2})
    assert (f.rpo_commits, f.rpo_s, round(f.rto_s, 3)) == (0, 0.0, 0.2)


def test_a_drill_without_writes_on_one_side_has_no_figures() -> None:
    with pytest.raises(MeasureError, match="new primary 'b'"):
        figures([Ack(1, "a", 1.0)], "a", "b", survivors={1})
