"""A node's SNMP fail is a fail seen twice: the nodes that did not pass are polled once more after a pause and
judged on that answer (checks/run.confirmed_network_results); a deviation that stays, fails."""

from __future__ import annotations

import dataclasses

from checks.catalogue import default_catalogue
from checks.run import confirmed_network_results
from checks.snmp_rules import Answers, Expectation, healthy_answers

CAT = default_catalogue()
A = Expectation("JB-140100-DC-WR01", "100.127.0.2", "WR", "Taiyuan data centre", {"lo": "router ID"}, (), ())
B = Expectation("JB-140100-DC-WR02", "100.127.0.3", "WR", "Taiyuan data centre", {"lo": "router ID"}, (), ())


def blank_alias(exp: Expectation) -> Answers:
    ans = healthy_answers(exp)
    return dataclasses.replace(ans, interfaces={n: dataclasses.replace(i, alias="") for n, i in ans.interfaces.items()})


def alias_status(results: list, node: str) -> str:
    [r] = [r for r in results if r.node == node and r.control == "JB-NET-SNMP-IF-ALIAS"]
    return r.status


def test_a_transient_answer_is_polled_again_and_judged_on_the_second() -> None:
    calls: list[list[str]] = []
    pauses: list[float] = []

    def poll(exps: list[Expectation]) -> dict[str, Answers]:
        calls.append([e.hostname for e in exps])
        first = len(calls) == 1
        return {e.hostname: blank_alias(e) if first and e is A else healthy_answers(e) for e in exps}

    results = confirmed_network_results(CAT, [A, B], poll, sleep=pauses.append)
    assert calls == [[A.hostname, B.hostname], [A.hostname]] and pauses == [2.0]  # only the suspect again
    assert all(r.status == "pass" for r in results)


def test_a_deviation_that_stays_fails_and_all_pass_polls_once() -> None:
    calls: list[list[str]] = []

    def poll(exps: list[Expectation]) -> dict[str, Answers]:
        calls.append([e.hostname for e in exps])
        return {e.hostname: blank_alias(e) if e is A else healthy_answers(e) for e in exps}

    results = confirmed_network_results(CAT, [A, B], poll, sleep=lambda s: None)
    assert alias_status(results, A.hostname) == "fail" and alias_status(results, B.hostname) == "pass"
    assert len(calls) == 2
    calls.clear()
    confirmed_network_results(CAT, [B], poll, sleep=lambda s: None)
    assert calls == [[B.hostname]]
