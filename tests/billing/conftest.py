"""Billing fixtures: a product with a Delta table and agreements on it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shugu.catalog.permissions import find_product
from shugu.client import Client
from shugu.contracts.models import Agreement, Negotiation, Offer
from shugu.db import utcnow
from shugu.entitlements import schemas as ent_schemas
from shugu.entitlements import service as entitlements
from shugu.jsoncanon import canonical_bytes
from shugu.ledger import service as ledger
from shugu.runtime import Exchange
from tests.conftest import LiveServer
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
        """An agreement concluded on the product (its terms frozen, hashed and on the
        ledger) with the entitlement it creates."""
        buyer = consumer or self.consumer
        with self.exchange.transaction() as s:
            product = find_product(s, SLUG)
            start = valid_from or utcnow()
            offer = Offer(product_id=product.id, provider_org_id=product.provider_org_id,
                          title=plan, plan=plan, period=period, price_fen=price_fen,
                          visibility="public", approval="instant", policy={}, status="active",
                          created_at=utcnow())
            s.add(offer)
            s.flush()
            neg = Negotiation(offer_id=offer.id, product_id=product.id,
                              provider_org_id=product.provider_org_id,
                              consumer_org_id=buyer.org_id,  # type: ignore[attr-defined]
                              state="FINALIZED", purpose="credit_risk", terms={},
                              proposed_by="consumer", created_at=utcnow(), updated_at=utcnow())
            s.add(neg)
            s.flush()
            terms = {"plan": plan, "period": period, "price_fen": price_fen, "offer": offer.id}
            digest = hashlib.sha256(canonical_bytes(terms)).hexdigest()
            a = Agreement(number="", negotiation_id=neg.id, offer_id=offer.id,
                          product_id=product.id, provider_org_id=product.provider_org_id,
                          consumer_org_id=neg.consumer_org_id, plan=plan, period=period,
                          price_fen=price_fen, terms=terms, terms_hash=digest,
                          valid_from=start, valid_until=valid_until, status="active",
                          created_at=start)
            s.add(a)
            s.flush()
            a.number = f"SG-AGR-TEST-{a.id:06d}"
            e = entitlements.create(s, actor="test", consumer_org_id=neg.consumer_org_id,
                                    product=product, modes=["share", "sandbox"],
                                    valid_from=start, valid_until=valid_until,
                                    quotas=ent_schemas.Quotas(), source="agreement",
                                    agreement_id=a.id)
            a.entitlement_id = e.id
            ledger.append(s, actor="test", action="agreement.concluded",
                          subject=f"agreement:{a.id}",
                          payload={"number": a.number, "terms_hash": digest})
            return Deal(a.id, a.number, e.id)

    def query(self, profile_token: str, n: int = 1) -> None:
        """n Delta Sharing /query calls as the consumer, over real HTTP."""
        url = f"{self.server.url}/delta-sharing/shares/{SLUG}/schemas/default/tables/use/query"
        for _ in range(n):
            r = httpx.post(url, json={}, headers={"Authorization": f"Bearer {profile_token}"})
            assert r.status_code == 200, r.text


@pytest.fixture
def market(exchange: Exchange, server: LiveServer, provider: Client, consumer: Client,
           operator: Client) -> Market:
    provider.create_product(SLUG, "企业月度用电量")
    provider.create_table(SLUG, "use")
    ingest(provider, SLUG, "use", source(0, 2500))
    return Market(exchange, server, provider, consumer, operator)


def profile_token(client: Client, tmp_path: Path) -> str:
    profile = client.sharing_profile("billing-tests")
    (tmp_path / "p.share").write_text(json.dumps(profile))
    return str(profile["bearerToken"])


def days_ago(n: float) -> datetime:
    return utcnow() - timedelta(days=n)
