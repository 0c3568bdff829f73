"""Several live entitlements on one product: each use is charged to one, chosen by room
first and cost to the consumer next (shugu.entitlements.service.precedence), and metered
against the one used — over real HTTP, on SQLite and PostgreSQL, also under concurrency."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from shugu.client import Client
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.metering.models import UsageRecord
from shugu.runtime import Exchange
from tests.conftest import LiveServer, race
from tests.contracts.conftest import SLUG, make_policy, quota
from tests.sharing.conftest import write_profile

QUERY = "/delta-sharing/shares/power-use/schemas/default/tables/data/query"


def agree(provider: Client, consumer: Client, plan: str, price_fen: int,
          *constraints: dict[str, Any], period: str | None = None,
          modes: list[str] | None = None) -> int:
    """An agreement through the real negotiation; returns its entitlement id."""
    oid = provider.create_offer(SLUG, plan, plan=plan, price_fen=price_fen, period=period,
                                policy=make_policy(*constraints, modes=modes)).id
    n = consumer.request_offer(oid, "credit_risk")
    assert n.state == "FINALIZED" and n.agreement_id is not None
    eid = consumer.get_agreement(n.agreement_id).entitlement_id
    assert eid is not None
    return eid


def bearer(consumer: Client, server: LiveServer, tmp_path: Path) -> str:
    profile = json.loads(Path(write_profile(consumer, server, tmp_path / "p.share"))
                         .read_text())
    return str(profile["bearerToken"])


def query(server: LiveServer, token: str) -> httpx.Response:
    return httpx.post(server.url + QUERY, json={}, timeout=60,
                      headers={"Authorization": f"Bearer {token}"})


def file_urls(r: httpx.Response) -> list[str]:
    return [json.loads(line)["file"]["url"] for line in r.text.splitlines()
            if line.startswith('{"file"')]


def entitlement_of(url: str) -> int:
    """The entitlement id a signed file URL carries (…/files/{table}/{entitlement}/…)."""
    return int(url.split("/delta-sharing/files/")[1].split("/")[1])


def charged(exchange: Exchange, kind: str = "share.query") -> Counter[int]:
    with exchange.read() as s:
        return Counter(s.scalars(select(UsageRecord.entitlement_id)
                                 .where(UsageRecord.kind == kind)))


def used(exchange: Exchange, eid: int) -> int:
    with exchange.read() as s:
        e = s.get(Entitlement, eid)
        assert e is not None
        return e.used_queries


def test_an_older_subscription_is_not_hidden_by_a_newer_per_query_plan(
        provider: Client, consumer: Client, product: str, server: LiveServer,
        exchange: Exchange, tmp_path: Path) -> None:
    """The issue's case: a subscription without quota, then a per-query plan with a quota
    of 2. The third query is answered, and all go to the subscription (no marginal cost):
    the per-query plan is never billed for them."""
    sub = agree(provider, consumer, "subscription", 100_00, period="month")
    per_query = agree(provider, consumer, "per_query", 5_00, quota(2))
    token = bearer(consumer, server, tmp_path)
    for _ in range(3):
        r = query(server, token)
        assert r.status_code == 200, r.text
        assert {entitlement_of(u) for u in file_urls(r)} == {sub}
    assert charged(exchange) == {sub: 3}
    assert charged(exchange, "share.download") == {sub: 3}
    assert (used(exchange, sub), used(exchange, per_query)) == (3, 0)
    # The entitlement shows what decides the order.
    e = consumer.get_entitlement(per_query)
    assert (e.plan, e.unit_price_fen) == ("per_query", 5_00)


def test_prepaid_quota_first_then_the_cheapest_per_unit_plan(
        provider: Client, consumer: Client, product: str, server: LiveServer,
        exchange: Exchange, tmp_path: Path) -> None:
    dear = agree(provider, consumer, "per_query", 9_00)           # oldest, dearest
    prepaid = agree(provider, consumer, "one_time", 50_00, quota(2))
    cheap = agree(provider, consumer, "per_query", 3_00, quota(1))
    token = bearer(consumer, server, tmp_path)
    seen = []
    for _ in range(5):
        r = query(server, token)
        assert r.status_code == 200, r.text
        urls = file_urls(r)
        assert urls
        # The answer's file URLs carry the entitlement charged: their bytes go to it too.
        seen.append(entitlement_of(urls[0]))
        assert httpx.get(urls[0]).status_code == 200
    assert seen == [prepaid, prepaid, cheap, dear, dear]
    assert charged(exchange) == {prepaid: 2, cheap: 1, dear: 2}
    assert set(charged(exchange, "share.bytes")) == {prepaid, cheap, dear}
    # Billing reads usage per agreement's entitlement: only the per-query plans bill, and
    # each for the queries charged to it.
    with exchange.read() as s:
        for eid, n in ((cheap, 1), (dear, 2), (prepaid, 2)):
            e = s.get(Entitlement, eid)
            assert e is not None and e.used_queries == n


def test_all_quotas_used_up_is_refused_with_the_quota_named(
        provider: Client, consumer: Client, product: str, server: LiveServer,
        exchange: Exchange, tmp_path: Path) -> None:
    a = agree(provider, consumer, "one_time", 10_00, quota(1))
    b = agree(provider, consumer, "per_query", 1_00, quota(1))
    token = bearer(consumer, server, tmp_path)
    assert [query(server, token).status_code for _ in range(2)] == [200, 200]
    refused = query(server, token)
    assert refused.status_code == 403
    assert refused.json()["shuguCode"] == "quota_exceeded"
    assert charged(exchange) == {a: 1, b: 1}
    # Still listed: visibility never depends on quotas.
    shares = httpx.get(f"{server.url}/delta-sharing/shares",
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert [s["name"] for s in shares["items"]] == [SLUG]


def test_concurrent_queries_spill_over_exactly_without_overspending(
        provider: Client, consumer: Client, product: str, server: LiveServer,
        exchange: Exchange, tmp_path: Path) -> None:
    prepaid = agree(provider, consumer, "one_time", 10_00, quota(4))
    metered = agree(provider, consumer, "per_query", 2_00, quota(5))
    token = bearer(consumer, server, tmp_path)
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def worker() -> None:
        with httpx.Client(timeout=120) as http:
            start.wait()
            r = http.post(server.url + QUERY, json={},
                          headers={"Authorization": f"Bearer {token}"})
            with lock:
                results.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(results) == {200: 9, 403: 7}
    assert (used(exchange, prepaid), used(exchange, metered)) == (4, 5)
    assert charged(exchange) == {prepaid: 4, metered: 5}


def test_the_sandbox_choice_and_debit_are_atomic_under_concurrency(
        provider: Client, consumer: Client, product: str, exchange: Exchange) -> None:
    """The sandbox calls live_entitlement and then debit in one write transaction: the
    choice locks, so 40 concurrent uses against quotas 3 + 5 give exactly 8."""
    first = agree(provider, consumer, "one_time", 10_00, quota(3), modes=["sandbox"])
    second = agree(provider, consumer, "per_query", 2_00, quota(5), modes=["sandbox"])
    org = consumer.org_id  # type: ignore[attr-defined]
    with exchange.read() as s:
        product_id = s.get(Entitlement, first).product_id  # type: ignore[union-attr]

    def use(s: Any) -> None:
        e = entitlements.live_entitlement(s, org, product_id, "sandbox", rows=1)
        entitlements.debit(s, e.id, queries=1, rows=1)

    outcomes = race(exchange, use, threads=8, each=5)
    assert Counter(outcomes) == {"ok": 8, "quota_exceeded": 32}
    assert (used(exchange, first), used(exchange, second)) == (3, 5)
    # Not a share entitlement: Delta Sharing sees nothing.
    with exchange.read() as s:
        assert entitlements.live_products(s, org, "share") == []


def test_a_rows_quota_without_room_passes_the_use_to_the_next(
        provider: Client, consumer: Client, product: str, exchange: Exchange) -> None:
    small = agree(provider, consumer, "one_time", 10_00, quota(10, "rows"), modes=["sandbox"])
    big = agree(provider, consumer, "per_1000_rows", 1_00, modes=["sandbox"])
    org = consumer.org_id  # type: ignore[attr-defined]
    with exchange.transaction() as s:
        product_id = s.get(Entitlement, small).product_id  # type: ignore[union-attr]
        assert entitlements.live_entitlement(s, org, product_id, "sandbox", rows=10).id == small
        assert entitlements.live_entitlement(s, org, product_id, "sandbox", rows=11).id == big
        e = entitlements.debit_live(s, org, product_id, "sandbox", queries=1, rows=11)
        assert e.id == big and e.used_rows == 11
