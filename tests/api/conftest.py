"""A seeded exchange for whole-API tests: one trade taken through every domain.

The provider lists `power-use` (a Delta table `use`), publishes revision 1, fingerprints and
registers it (a certificate, pledged to the consumer), and the consumer concludes an
agreement that is billed, settled and vouchered. `Trade.known` maps path parameters to
the ids of these real objects, so tests can reach past "not found" into every operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from shugu.client import Client
from shugu.db import utcnow
from shugu.runtime import Exchange
from tests.billing.conftest import SLUG, Market, days_ago
from tests.billing.conftest import market as market
from tests.conftest import LiveServer, Orgs
from tests.rights.conftest import draft, through


@dataclass
class Trade:
    exchange: Exchange
    server: LiveServer
    operator: Client
    provider: Client
    consumer: Client
    outsider: Client  # another consumer organisation, party to nothing above
    ids: dict[str, object] = field(default_factory=dict)

    def known(self, path: str) -> dict[str, object]:
        """Real values for the path parameters of `path` (an OpenAPI path template)."""
        values = dict(self.ids)
        for prefix, key in (("/invoices/", "invoice"), ("/settlements/", "settlement"),
                            ("/vouchers/", "voucher"), ("/certificates/", "certificate"),
                            ("/revisions/", "revision")):
            if prefix in path:
                values["number"] = self.ids[key]
        return {k: v for k, v in values.items() if "{" + k + "}" in path}


@pytest.fixture
def trade(market: Market, orgs: Orgs) -> Trade:
    provider, consumer, operator = market.provider, market.consumer, market.operator
    revision = provider.publish_revision(SLUG, "r1").number
    deal = market.agree("one_time", 100_00, valid_from=days_ago(40))
    negotiation = consumer.list_negotiations().items[0]
    invoice = operator.run_billing()[0]
    settlement = operator.settle()
    voucher = settlement.vouchers[0]
    registration = draft(provider, SLUG, revision)
    certificate = through(operator, provider, market.exchange, registration)
    pledge = provider.register_pledge(certificate, consumer.org_id,  # type: ignore[attr-defined]
                                      1_000_00, utcnow() + timedelta(days=30))
    document = provider.registration(registration).documents[0]
    outsider = orgs.new(["consumer"], "其他银行")
    ids: dict[str, object] = {
        "slug": SLUG, "table": "use", "share": SLUG, "schema": "default",
        "offer_id": negotiation.offer_id, "negotiation_id": negotiation.id,
        "agreement_id": deal.agreement_id, "entitlement_id": deal.entitlement_id,
        "org_id": consumer.org_id,  # type: ignore[attr-defined]
        "registration_id": registration, "document_id": document.id,
        "pledge_id": pledge.id, "seq": 1,
        "invoice": invoice.number, "settlement": settlement.number, "voucher": voucher,
        "certificate": certificate, "revision": revision,
    }
    queue = operator.listing_queue(status="listed").items
    if queue:
        ids["listing_id"] = queue[0].id
    return Trade(market.exchange, market.server, operator, provider, consumer, outsider, ids)
