"""Offers: validation of plan, period, price and policy; public and private visibility;
withdrawal; evaluation; nothing for other organisations."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from shugu.client import Client
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs, list_product
from tests.contracts.conftest import SLUG, api_error, make_policy, offer, purpose


@pytest.mark.parametrize(("plan", "period"), [
    ("one_time", None), ("subscription", "month"), ("subscription", "year"),
    ("per_query", None), ("per_1000_rows", None), ("per_gb", None)])
def test_every_plan(provider: Client, product: str, plan: str, period: str | None) -> None:
    o = provider.create_offer(SLUG, plan, plan=plan, period=period, price_fen=9_99,
                              policy=make_policy())
    assert (o.plan, o.period, o.price_fen, o.status) == (plan, period, 999, "active")
    assert o.policy["@context"] == "http://www.w3.org/ns/odrl.jsonld"


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"plan": "subscription"}, 400, "period_required"),
    ({"plan": "per_query", "period": "month"}, 400, "period_not_allowed"),
    ({"plan": "per_day"}, 422, "invalid_request"),
    ({"period": "week", "plan": "subscription"}, 422, "invalid_request"),
    ({"policy": {"permission": [{"action": "use"}]}}, 400, "invalid_policy"),
    ({"visibility": "private"}, 400, "invalid_private_org"),
    ({"private_org_id": 1}, 400, "invalid_private_org"),
    ({"approval": "maybe"}, 422, "invalid_request"),
])
def test_offer_validation(provider: Client, product: str, fields: dict[str, Any], status: int,
                          code: str) -> None:
    body: dict[str, Any] = {"plan": "one_time", "price_fen": 100, "policy": make_policy(),
                            **fields}
    e = api_error(lambda: provider.create_offer(SLUG, "x", **body))
    assert (e.status, e.code) == (status, code)
    assert provider.list_offers(SLUG) == []


def test_bad_policy_error_names_the_path(provider: Client, product: str) -> None:
    e = api_error(lambda: provider.create_offer(SLUG, "x", plan="one_time", price_fen=1,
                                                policy=make_policy(purpose("gambling"))))
    assert e.details["path"] == "permission[0].constraint[1].rightOperand[0]"


def test_who_may_create_offers(provider: Client, consumer: Client, orgs: Orgs,
                               product: str, exchange: Exchange) -> None:
    e = api_error(lambda: consumer.create_offer(SLUG, "x", plan="one_time", price_fen=1,
                                                policy=make_policy()))
    assert (e.status, e.code) == (403, "role_required")
    rival = orgs.new(["provider"])
    e = api_error(lambda: rival.create_offer(SLUG, "x", plan="one_time", price_fen=1,
                                             policy=make_policy()))
    assert (e.status, e.code) == (403, "not_product_owner")
    assert api_error(lambda: provider.create_offer("nope", "x", plan="one_time", price_fen=1,
                                                   policy=make_policy())).code == \
        "product_not_found"
    with exchange.transaction() as s:
        from shugu.catalog.models import Product
        s.scalars(select(Product).where(Product.slug == SLUG)).one().status = "delisted"
    e = api_error(lambda: provider.create_offer(SLUG, "x", plan="one_time", price_fen=1,
                                                policy=make_policy()))
    assert (e.status, e.code) == (409, "product_not_offerable")


def test_private_offers_are_invisible_to_others(provider: Client, consumer: Client,
                                                orgs: Orgs, product: str,
                                                exchange: Exchange) -> None:
    public = offer(provider)
    private = offer(provider, visibility="private",
                    private_org_id=consumer.org_id)  # type: ignore[attr-defined]
    other = orgs.new(["consumer"])
    assert [o.id for o in consumer.list_offers(SLUG)] == [public, private]
    assert [o.id for o in other.list_offers(SLUG)] == [public]
    assert [o.id for o in provider.list_offers(SLUG)] == [public, private]
    assert consumer.get_offer(private).visibility == "private"
    for call in (lambda: other.get_offer(private),
                 lambda: other.evaluate_offer(private, purpose="credit_risk"),
                 lambda: other.request_offer(private, "credit_risk"),
                 lambda: other.withdraw_offer(private)):
        e = api_error(call)
        assert (e.status, e.code) == (404, "offer_not_found")
    assert other.request_offer(public, "credit_risk").state == "FINALIZED"
    # A private offer only to a consumer organisation, and never to oneself.
    assert api_error(lambda: offer(provider, visibility="private",
                                   private_org_id=provider.org_id)  # type: ignore[attr-defined]
                     ).code == "invalid_private_org"
    with exchange.read() as s:
        assert s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == f"offer:{private}")).all() == ["offer.created"]


def test_withdraw(provider: Client, consumer: Client, product: str) -> None:
    oid = offer(provider)
    e = api_error(lambda: consumer.withdraw_offer(oid))
    assert (e.status, e.code) == (403, "not_offer_owner")
    gone = provider.withdraw_offer(oid)
    assert gone.status == "withdrawn" and gone.withdrawn_at is not None
    assert api_error(lambda: provider.withdraw_offer(oid)).code == "offer_withdrawn"
    assert consumer.list_offers(SLUG) == []
    assert [o.status for o in provider.list_offers(SLUG)] == ["withdrawn"]


def test_evaluate_shows_every_rule(provider: Client, consumer: Client, orgs: Orgs,
                                   product: str) -> None:
    oid = offer(provider, purpose("credit_risk"),
                {"leftOperand": "recipientRole", "operator": "isAnyOf",
                 "rightOperand": ["consumer"]})
    d = consumer.evaluate_offer(oid, purpose="credit_risk", mode="share")
    assert d.allowed
    assert [(r.rule, r.outcome) for r in d.rules] == [
        ("permission[0].constraint[0]", "permit"), ("permission[0].constraint[1]", "permit"),
        ("permission[0].constraint[2]", "permit"), ("prohibition[0]", "notice")]
    assert not consumer.evaluate_offer(oid, purpose="credit_risk", mode="sandbox").allowed
    broker = orgs.new(["broker"])
    d = broker.evaluate_offer(oid, purpose="credit_risk")
    assert [r.code for r in d.rules if r.outcome == "deny"] == ["role_not_allowed"]
    assert api_error(lambda: consumer.evaluate_offer(oid, mode="copy")).status == 422


def test_only_listed_products_are_traded(provider: Client, consumer: Client,
                                         operator: Client) -> None:
    provider.create_product("draft-data", "未挂牌数据")
    # Offers are prepared before listing, but nobody else sees them yet.
    oid = provider.create_offer("draft-data", "标准", plan="one_time", price_fen=100,
                                policy=make_policy()).id
    assert api_error(lambda: consumer.get_offer(oid)).code == "offer_not_found"
    assert api_error(lambda: consumer.list_offers("draft-data")).code == "product_not_found"
    assert api_error(lambda: consumer.request_offer(oid, "credit_risk")).code == \
        "offer_not_found"
    list_product(provider, operator, "draft-data")
    first = consumer.request_offer(oid, "credit_risk")
    assert first.state == "FINALIZED"
    # A delisted product leaves the market and takes no new deals; the running agreement
    # stays.
    provider.delist("draft-data", "数据源变更")
    assert api_error(lambda: consumer.request_offer(oid, "credit_risk")).code == \
        "offer_not_found"
    assert consumer.get_agreement(first.agreement_id).status == "active"  # type: ignore[arg-type]
    assert api_error(lambda: provider.create_offer(
        "draft-data", "新", plan="one_time", price_fen=1, policy=make_policy())).code == \
        "product_not_offerable"
