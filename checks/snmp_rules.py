"""What an SNMP agent should answer (from the plan) and the verdict on what it did answer. Pure functions.

`Expectation` comes from the plan (checks/targets.py); `Answers` from the poller (checks/snmp.py). Each
`check` name of an snmp control in the catalogue is a function here: (Expectation, Answers) -> (status,
evidence). A node that did not answer SNMPv3 authPriv at all gets `error` on every control but v3_only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ESTABLISHED = 6
BGP_STATES = {1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm", 6: "established"}


@dataclass(frozen=True)
class Expectation:
    hostname: str
    address: str  # management address the agent listens on
    role: str
    location: str
    interfaces: Mapping[str, str] = field(default_factory=dict)  # ifName/ifDescr -> planned description
    bgp_peers_v4: tuple[str, ...] = ()
    bgp_peers_v6: tuple[str, ...] = ()  # not in BGP4-MIB: reported, not polled
    port: int = 161


@dataclass(frozen=True)
class Interface:
    oper_up: bool
    alias: str


@dataclass(frozen=True)
class Answers:
    v3_ok: bool  # authPriv answered sysName
    v3_error: str = ""
    sys_name: str = ""
    sys_location: str = ""
    interfaces: Mapping[str, Interface] = field(default_factory=dict)
    bgp_state: Mapping[str, int] = field(default_factory=dict)
    v2c_public: bool = False  # True = the agent answered v2c 'public' (must not)
    v3_noauth: bool = False  # True = the agent answered v3 noAuthNoPriv with data (must not)
    seconds: float = 0.0


def healthy_answers(exp: Expectation) -> Answers:
    """What a compliant agent answers: the pass scenario every snmp control is tested against."""
    return Answers(True, sys_name=exp.hostname, sys_location=exp.location,
                   interfaces={n: Interface(True, d) for n, d in exp.interfaces.items()},
                   bgp_state=dict.fromkeys(exp.bgp_peers_v4, ESTABLISHED))


def apply_scenario(exp: Expectation, ans: Answers, scenario: Mapping[str, Any]) -> Answers:
    """A catalogue scenario (overrides of a healthy agent's answers) applied to `ans`."""
    changes: dict[str, Any] = {k: v for k, v in scenario.items() if k in ("sys_name", "sys_location", "v2c_public",
                                                                          "v3_noauth", "v3_ok")}
    ifs = dict(ans.interfaces)
    for name in scenario.get("oper_down", ()):
        ifs[name] = replace(ifs[name], oper_up=False)
    for name, alias in scenario.get("alias", {}).items():
        ifs[name] = replace(ifs[name], alias=alias)
    bgp = dict(ans.bgp_state)
    for peer, state in scenario.get("bgp_state", {}).items():
        bgp[exp.bgp_peers_v4[0] if peer == "first" else peer] = state
    return replace(ans, interfaces=ifs, bgp_state=bgp, **changes)


def sysname(exp: Expectation, ans: Answers) -> tuple[str, str]:
    ok = ans.sys_name == exp.hostname
    return ("pass" if ok else "fail"), f"sysName={ans.sys_name!r}" + ("" if ok else f", planned {exp.hostname!r}")


def syslocation(exp: Expectation, ans: Answers) -> tuple[str, str]:
    ok = ans.sys_location.strip() == exp.location
    planned = "" if ok else f", planned {exp.location!r}"
    return ("pass" if ok else "fail"), f"sysLocation={ans.sys_location!r}{planned}"


def interfaces_up(exp: Expectation, ans: Answers) -> tuple[str, str]:
    missing = [n for n in exp.interfaces if n not in ans.interfaces]
    down = [n for n in exp.interfaces if n in ans.interfaces and not ans.interfaces[n].oper_up]
    if missing or down:
        parts = ([f"down: {', '.join(down)}"] if down else []) + ([f"absent: {', '.join(missing)}"] if missing else [])
        return "fail", "; ".join(parts)
    return "pass", f"{len(exp.interfaces)} planned interfaces up"


def interfaces_alias(exp: Expectation, ans: Answers) -> tuple[str, str]:
    bad = [f"{n}: ifAlias={ans.interfaces[n].alias!r}, planned {d!r}" if n in ans.interfaces else f"{n}: absent"
           for n, d in exp.interfaces.items() if n not in ans.interfaces or ans.interfaces[n].alias != d]
    if bad:
        return "fail", "; ".join(bad)
    return "pass", f"{len(exp.interfaces)} ifAlias match the plan"


def bgp_peers(exp: Expectation, ans: Answers) -> tuple[str, str]:
    bad = [f"{p}: {BGP_STATES.get(ans.bgp_state[p], ans.bgp_state[p])}" if p in ans.bgp_state else f"{p}: absent"
           for p in exp.bgp_peers_v4 if ans.bgp_state.get(p) != ESTABLISHED]
    v6 = f"; {len(exp.bgp_peers_v6)} IPv6 peers not in BGP4-MIB (not polled)" if exp.bgp_peers_v6 else ""
    if bad:
        return "fail", "not established: " + "; ".join(bad) + v6
    return "pass", f"{len(exp.bgp_peers_v4)} IPv4 peers established" + v6


def v3_only(exp: Expectation, ans: Answers) -> tuple[str, str]:
    problems = ([] if ans.v3_ok else [f"v3 authPriv got no answer ({ans.v3_error})"]) \
        + (["v2c community 'public' answered"] if ans.v2c_public else []) \
        + (["v3 noAuthNoPriv answered"] if ans.v3_noauth else [])
    if problems:
        return "fail", "; ".join(problems)
    return "pass", "v3 authPriv answered; v2c 'public' and v3 noAuthNoPriv got nothing"


CHECKS: dict[str, Callable[[Expectation, Answers], tuple[str, str]]] = {
    "sysname": sysname, "syslocation": syslocation, "interfaces_up": interfaces_up,
    "interfaces_alias": interfaces_alias, "bgp_peers": bgp_peers, "v3_only": v3_only}


def evaluate(check: str, exp: Expectation, ans: Answers) -> tuple[str, str]:
    if check != "v3_only" and not ans.v3_ok:
        return "error", f"no SNMPv3 authPriv answer from {exp.address}: {ans.v3_error}"
    return CHECKS[check](exp, ans)
