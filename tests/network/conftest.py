"""Shared fixtures: the national plan, computed once per test session."""

from __future__ import annotations

import pytest

from network.plan import PlanInput, build_intents
from network.service import open_network
from tests.conftest import INVENTORY


@pytest.fixture(scope="session")
def plan() -> PlanInput:
    return open_network(INVENTORY)


@pytest.fixture(scope="session")
def intents(plan: PlanInput) -> dict:
    return build_intents(plan)


def slice_hosts(plan: PlanInput, prefixes: tuple[str, ...] = ("10", "14", "11")) -> set[str]:
    """Routers of the ministry (10...), Shanxi (14...) and Beijing (11...): a slice verified on its own."""
    return {d.hostname for d in plan.inv.devices if d.is_router and d.site[:2] in prefixes}
@pytest.fixture(scope="session")
def world():
    from network.policy.service import open_world

    return open_world(INVENTORY)


@pytest.fixture(scope="session")
def defs(world):
    from network.policy.generate import definitions

    return definitions(world)
