"""Billing fixtures: a product with a Delta table and agreements on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shugu.client import Client
from shugu.contracts.models import Agreement
from shugu.db import utcnow
from shugu.entitlements.models import Entitlement
from shugu.runtime import Exchange
from tests.conftest import LiveServer, list_product
from tests.sharing.conftest import ingest, source

SLUG = "power-use"


@dataclass
class Deal:
    agreement_id: int
    number: str
    entitlement_id: int


@dataclass
class Market:
    exchange: Exchange
    server: LiveServer
    provider: Client
    consumer: Client
    operator: Client

    def agree(self, plan: str, price_fen: int, *, period: str | None = None,
              valid_from: datetime | None = None, valid_until: datetime | None = None,
              consumer: Client | None = None) -> Deal:
        """An agreement concluded through the real negotiation (an instant offer taken as
        is), with the entitlement it creates."""
        buyer = consumer or self.consumer
        policy = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
                  "permission": [{"action": "use", "constraint": [
                      {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                       "rightOperand": ["share", "sandbox"]}]}]}
        offer = self.provider.create_offer(SLUG, plan, plan=plan, price_fen=price_fen,
                                           period=period, policy=policy)
        negotiation = buyer.request_offer(offer.id, "credit_risk")
        assert negotiation.state == "FINALIZED" and negotiation.agreement_id is not None
        if valid_from is not None:
            backdate(self.exchange, negotiation.agreement_id, valid_from, valid_until)
        with self.exchange.read() as s:
            a = s.get(Agreement, negotiation.agreement_id)
            assert a is not None and a.entitlement_id is not None
            return Deal(a.id, a.number, a.entitlement_id)

    def query(self, profile_token: str, n: int = 1) -> None:
        """n Delta Sharing /query calls as the consumer, over real HTTP."""
        url = f"{self.server.url}/delta-sharing/shares/{SLUG}/schemas/default/tables/use/query"
        for _ in range(n):
            r = httpx.post(url, json={}, headers={"Authorization": f"Bearer {profile_token}"},
                           timeout=60)
            assert r.status_code == 200, r.text


@pytest.fixture
def market(exchange: Exchange, server: LiveServer, provider: Client, consumer: Client,
           operator: Client) -> Market:
    provider.create_product(SLUG, "企业月度用电量")
    provider.create_table(SLUG, "use")
    ingest(provider, SLUG, "use", source(0, 2500))
    list_product(provider, operator, SLUG)
    return Market(exchange, server, provider, consumer, operator)


def backdate(exchange: Exchange, agreement_id: int, valid_from: datetime,
             valid_until: datetime | None) -> None:
    """Test setup only: move an agreement (and its entitlement) into the past, as if it had
    been concluded at `valid_from`, so billing sees the periods that have passed since."""
    with exchange.transaction() as s:
        a = s.get(Agreement, agreement_id)
        assert a is not None
        a.valid_from = a.created_at = valid_from
        a.valid_until = valid_until
        e = s.get(Entitlement, a.entitlement_id)
        assert e is not None
        e.valid_from, e.valid_until = valid_from, valid_until


def profile_token(client: Client, tmp_path: Path) -> str:
    profile = client.sharing_profile("billing-tests")
    (tmp_path / "p.share").write_text(json.dumps(profile))
    return str(profile["bearerToken"])


def days_ago(n: float) -> datetime:
    return utcnow() - timedelta(days=n)
