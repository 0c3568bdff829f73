"""Every instant a client sends must carry its time zone: a naive one is ambiguous by eight
hours in this market and would otherwise reach a UTC column and fail there."""

from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from shugu.billing.schemas import BillingRunIn, SettleIn
from shugu.client import Client
from shugu.entitlements.schemas import EntitlementIn
from shugu.rights.schemas import PledgeIn, RegistrationIn, RegistrationPatch
from tests.conftest import LiveServer

NAIVE = "2027-01-01T00:00:00"
CASES: list[tuple[type[BaseModel], dict[str, object], str]] = [
    (BillingRunIn, {}, "until"),
    (SettleIn, {}, "until"),
    (EntitlementIn, {"consumer_org_id": 1, "product": "p", "modes": ["share"]}, "valid_until"),
    (PledgeIn, {"pledgee_org_id": 1, "amount_fen": 1}, "term_end"),
    (RegistrationIn, {"kind": "licence"}, "licence_until"),
    (RegistrationPatch, {}, "licence_until"),
]


@pytest.mark.parametrize(("model", "base", "field"), CASES)
def test_naive_instants_are_refused(model: type[BaseModel], base: dict[str, object],
                                    field: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate({**base, field: NAIVE})
    assert any(e["loc"][0] == field for e in info.value.errors())
    # The same instant with its zone passes that field.
    try:
        model.model_validate({**base, field: NAIVE + "+08:00"})
    except ValidationError as exc:
        assert all(e["loc"][0] != field for e in exc.errors())


def test_naive_grant_window_is_a_422_and_writes_nothing(provider: Client, consumer: Client,
                                                       server: LiveServer) -> None:
    provider.create_product("power-use", "企业月度用电量")
    r = httpx.post(f"{server.url}/api/v1/entitlements",
                   headers={"Authorization": f"Bearer {provider.token}"},
                   json={"consumer_org_id": consumer.org_id,  # type: ignore[attr-defined]
                         "product": "power-use", "modes": ["share"], "valid_until": NAIVE},
                   timeout=60)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    assert provider.list_entitlements(role="provider") == []
