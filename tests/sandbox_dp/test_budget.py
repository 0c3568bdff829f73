"""The privacy budget on both databases: set, spend, exhaust, and no overspend under
concurrency. Entitlements are made through the real API."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from sqlalchemy import select

from shugu.client import Client
from shugu.errors import Forbidden, InvalidInput, NotFound
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from shugu.sandbox.dp import budget
from shugu.sandbox.dp.models import PrivacyBudget
from tests.conftest import race


@pytest.fixture
def entitlement_id(provider: Client, consumer: Client) -> int:
    provider.create_product("power-use", "企业月度用电量")
    granted = provider.grant_entitlement(consumer.org_id, "power-use",  # type: ignore[attr-defined]
                                         modes=["sandbox"])
    return granted.id


def actions(exchange: Exchange, entitlement_id: int) -> list[str]:
    with exchange.read() as s:
        return list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == f"entitlement:{entitlement_id}",
            LedgerEvent.action.like("privacy_budget.%")).order_by(LedgerEvent.seq)))


def test_set_spend_and_exhaust(exchange: Exchange, entitlement_id: int) -> None:
    with exchange.transaction() as s:
        b = budget.set_budget(s, entitlement_id, 1.0, actor="user:grid")
        assert (b.total_micro_epsilon, b.spent_micro_epsilon) == (1_000_000, 0)
    with exchange.transaction() as s:
        assert budget.spend(s, entitlement_id, 0.3) == pytest.approx(0.7)
    with exchange.transaction() as s:
        # 0.3 + 0.7 is exactly the total in micro-ε, though not in binary floating point.
        assert budget.spend(s, entitlement_id, 0.7, purpose="avg kwh by province") == 0.0
    with pytest.raises(Forbidden) as info, exchange.transaction() as s:
        budget.spend(s, entitlement_id, 0.000001)
    assert info.value.code == "privacy_budget_exhausted"
    assert info.value.details == {"remaining_epsilon": 0.0, "requested_epsilon": 0.000001,
                                  "total_epsilon": 1.0}
    assert info.value.status == 403
    with exchange.read() as s:
        assert budget.remaining(s, entitlement_id) == 0.0
    # Raising the total allows more; what was spent stays spent.
    with exchange.transaction() as s:
        budget.set_budget(s, entitlement_id, 1.5)
    with exchange.transaction() as s:
        assert budget.remaining(s, entitlement_id) == 0.5
        with pytest.raises(Forbidden) as info:
            budget.spend(s, entitlement_id, 0.6)
        assert info.value.details["remaining_epsilon"] == 0.5
        assert budget.spend(s, entitlement_id, 0.5) == 0.0
    # Lowering it below what was spent leaves nothing, never a negative remainder.
    with exchange.transaction() as s:
        budget.set_budget(s, entitlement_id, 0.2)
        assert budget.remaining(s, entitlement_id) == 0.0
    assert actions(exchange, entitlement_id) == [
        "privacy_budget.set", "privacy_budget.spent", "privacy_budget.spent",
        "privacy_budget.set", "privacy_budget.spent", "privacy_budget.set"]
    with exchange.read() as s:
        event = s.scalars(select(LedgerEvent).where(
            LedgerEvent.action == "privacy_budget.spent").order_by(LedgerEvent.seq)).all()[1]
        assert '"purpose":"avg kwh by province"' in event.payload
        assert event.actor == "system:sandbox"


def test_no_budget_and_bad_amounts(exchange: Exchange, entitlement_id: int) -> None:
    with pytest.raises(Forbidden) as info, exchange.transaction() as s:
        budget.spend(s, entitlement_id, 0.1)
    assert info.value.code == "no_privacy_budget"
    with exchange.read() as s:
        assert budget.remaining(s, entitlement_id) is None
    with pytest.raises(NotFound) as nf, exchange.transaction() as s:
        budget.set_budget(s, 999_999, 1.0)
    assert nf.value.code == "entitlement_not_found"
    for bad in (0, -1, math.nan, math.inf, 1e-7, 10.0**10, "1", None):
        with pytest.raises(InvalidInput) as bad_info, exchange.transaction() as s:
            budget.set_budget(s, entitlement_id, bad)  # type: ignore[arg-type]
        assert bad_info.value.code == "invalid_epsilon"
    with exchange.transaction() as s:
        budget.set_budget(s, entitlement_id, Decimal("0.1"))
    for bad in (0, -0.5, math.nan, math.inf):
        with pytest.raises(InvalidInput) as bad_info, exchange.transaction() as s:
            budget.spend(s, entitlement_id, bad)
        assert bad_info.value.code == "invalid_epsilon"
    assert actions(exchange, entitlement_id) == ["privacy_budget.set"]


def test_amounts_are_exact_micro_epsilons(exchange: Exchange, entitlement_id: int) -> None:
    with exchange.transaction() as s:
        budget.set_budget(s, entitlement_id, 0.1)
        # A spend below one micro-ε still costs one: rounding never favours the spender.
        assert budget.spend(s, entitlement_id, 1e-9) == 0.099999
        for _ in range(3):
            budget.spend(s, entitlement_id, 0.033333)
        assert budget.remaining(s, entitlement_id) == 0.0
    with exchange.read() as s:
        row = s.scalars(select(PrivacyBudget).where(
            PrivacyBudget.entitlement_id == entitlement_id)).one()
        assert (row.total_micro_epsilon, row.spent_micro_epsilon) == (100_000, 100_000)


def test_64_concurrent_spends_against_a_budget_for_10(exchange: Exchange,
                                                      entitlement_id: int) -> None:
    with exchange.transaction() as s:
        budget.set_budget(s, entitlement_id, 1.0)
    outcomes = race(exchange, lambda s: budget.spend(s, entitlement_id, 0.1))
    assert len(outcomes) == 64
    assert outcomes.count("ok") == 10
    assert set(outcomes) - {"ok"} == {"privacy_budget_exhausted"}
    with exchange.read() as s:
        assert budget.remaining(s, entitlement_id) == 0.0
        row = s.scalars(select(PrivacyBudget)).one()
        assert row.spent_micro_epsilon == 1_000_000
    assert actions(exchange, entitlement_id).count("privacy_budget.spent") == 10
