"""Usage records are visible to the consumer that caused them and the provider paid by them."""

from __future__ import annotations

from shugu.client import Client
from shugu.entitlements import service as entitlements
from shugu.metering import service as metering
from shugu.runtime import Exchange
from tests.conftest import Orgs


def test_usage_visibility(provider: Client, consumer: Client, orgs: Orgs,
                          exchange: Exchange) -> None:
    provider.create_product("power-use", "企业月度用电量")
    granted = provider.grant_entitlement(consumer.org_id, "power-use")  # type: ignore[attr-defined]
    with exchange.transaction() as s:
        e = entitlements.debit(s, granted.id, queries=1)
        metering.record(s, e, "share.query", 1, {"table": "monthly", "version": 0})
        e = entitlements.debit(s, granted.id, bytes=4096)
        metering.record(s, e, "share.bytes", 4096, {"file": "part-0.parquet"})
    mine = consumer.usage()
    assert [(u.kind, u.quantity) for u in mine.items] == [("share.query", 1),
                                                         ("share.bytes", 4096)]
    assert mine.items[0].detail == {"table": "monthly", "version": 0}
    theirs = provider.usage(role="provider", entitlement_id=granted.id)
    assert [u.id for u in theirs.items] == [u.id for u in mine.items]
    assert consumer.get_entitlement(granted.id).used.bytes == 4096
    stranger = orgs.new(["consumer", "provider"])
    assert stranger.usage().items == [] and stranger.usage(role="provider").items == []
    assert provider.usage().items == []  # the provider consumed nothing itself
    page = consumer.usage(limit=1)
    assert len(page.items) == 1 and page.next_page_token
