"""Entitlements over the real API, and the atomic debit under concurrency on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shugu.client import Client, ShuguAPIError
from shugu.db import utcnow
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.errors import Forbidden
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs, race


def api_error(call: object) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()  # type: ignore[operator]
    return info.value


@pytest.fixture
def product(provider: Client) -> str:
    provider.create_product("power-use", "企业月度用电量")
    return "power-use"


def test_provider_grants_and_revokes(provider: Client, consumer: Client, orgs: Orgs,
                                     product: str, exchange: Exchange) -> None:
    cid = consumer.org_id  # type: ignore[attr-defined]
    until = utcnow() + timedelta(days=30)
    granted = provider.grant_entitlement(cid, product, modes=["share", "sandbox"],
                                         valid_until=until, quotas={"queries": 100})
    assert granted.live and granted.modes == ["sandbox", "share"]
    assert granted.quotas.queries == 100 and granted.used.queries == 0
    assert [e.id for e in consumer.list_entitlements()] == [granted.id]
    assert [e.id for e in provider.list_entitlements(role="provider")] == [granted.id]
    assert consumer.get_entitlement(granted.id).product == product
    # A third organisation sees nothing of it.
    stranger = orgs.new(["consumer"])
    assert stranger.list_entitlements() == []
    assert api_error(lambda: stranger.get_entitlement(granted.id)).code == \
        "entitlement_not_found"
    assert api_error(lambda: stranger.revoke_entitlement(granted.id, "x")).status == 404
    # The consumer cannot revoke; the provider can, once.
    assert api_error(lambda: consumer.revoke_entitlement(granted.id, "x")).code == \
        "not_product_owner"
    revoked = provider.revoke_entitlement(granted.id, "合同终止")
    assert not revoked.live and revoked.revoke_reason == "合同终止"
    assert api_error(lambda: provider.revoke_entitlement(granted.id, "x")).code == \
        "entitlement_revoked"
    with exchange.read() as s:
        actions = list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == f"entitlement:{granted.id}").order_by(LedgerEvent.seq)))
    assert actions == ["entitlement.granted", "entitlement.revoked"]


def test_grant_refusals(provider: Client, consumer: Client, orgs: Orgs, product: str) -> None:
    cid = consumer.org_id  # type: ignore[attr-defined]
    other_provider = orgs.new(["provider"])
    e = api_error(lambda: other_provider.grant_entitlement(cid, product))
    assert (e.status, e.code) == (403, "not_product_owner")
    assert api_error(lambda: consumer.grant_entitlement(cid, product)).code == \
        "not_product_owner"
    assert api_error(lambda: provider.grant_entitlement(
        other_provider.org_id, product)).code == "not_a_consumer"  # type: ignore[attr-defined]
    both = orgs.new(["provider", "consumer"])
    both.create_product("own-data", "自有数据")
    assert api_error(lambda: both.grant_entitlement(
        both.org_id, "own-data")).code == "own_product"  # type: ignore[attr-defined]
    assert api_error(lambda: provider.grant_entitlement(999999, product)).code == \
        "organization_not_found"
    assert api_error(lambda: provider.grant_entitlement(cid, "nope")).code == \
        "product_not_found"
    now = utcnow()
    assert api_error(lambda: provider.grant_entitlement(
        cid, product, valid_from=now, valid_until=now - timedelta(days=1))).code == \
        "invalid_window"
    assert api_error(lambda: provider.grant_entitlement(cid, product, modes=["download"])
                     ).status == 422
    assert consumer.list_entitlements() == []


def test_liveness_follows_window_mode_and_revocation(provider: Client, consumer: Client,
                                                     product: str, exchange: Exchange) -> None:
    cid = consumer.org_id  # type: ignore[attr-defined]
    later = provider.grant_entitlement(cid, product, valid_from=utcnow() + timedelta(days=1))
    with exchange.read() as s:
        assert entitlements.live_products(s, cid, "share") == []
        with pytest.raises(Forbidden) as info:
            entitlements.check_live(s, later.id, "share")
        assert info.value.code == "entitlement_expired"
    now_ = provider.grant_entitlement(cid, product, modes=["sandbox"])
    with exchange.read() as s:
        assert entitlements.live_products(s, cid, "share") == []
        [(e, p)] = entitlements.live_products(s, cid, "sandbox")
        assert (e.id, p.slug) == (now_.id, product)
    provider.revoke_entitlement(now_.id, "stop")
    with exchange.read() as s:
        assert entitlements.live_products(s, cid, "sandbox") == []
        with pytest.raises(Forbidden) as info:
            entitlements.check_live(s, now_.id, "sandbox")
        assert info.value.code == "entitlement_revoked"


def test_64_concurrent_debits_against_a_quota_of_10(provider: Client, consumer: Client,
                                                    product: str, exchange: Exchange) -> None:
    granted = provider.grant_entitlement(consumer.org_id, product,  # type: ignore[attr-defined]
                                         quotas={"queries": 10})
    outcomes = race(exchange, lambda s: entitlements.debit(s, granted.id, queries=1))
    assert len(outcomes) == 64
    assert outcomes.count("ok") == 10
    assert set(outcomes) - {"ok"} == {"quota_exceeded"}
    with exchange.read() as s:
        assert s.get(Entitlement, granted.id).used_queries == 10  # type: ignore[union-attr]


def test_sharing_profile_token_reads_shares_only(consumer: Client, server: LiveServer) -> None:
    profile = consumer.sharing_profile("spark job", expires_in_days=7)
    assert profile["shareCredentialsVersion"] == 1
    assert profile["endpoint"].endswith("/delta-sharing")
    assert profile["bearerToken"].startswith("shg_") and profile["expirationTime"]
    recipient = Client(server.url, profile["bearerToken"])
    e = api_error(recipient.me)
    assert (e.status, e.code) == (403, "token_scope")
    assert "sharing" in {t.scope for t in consumer.list_tokens()}
