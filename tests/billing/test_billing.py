"""Billing end to end over the real API: usage → invoices → settlement → vouchers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shugu.billing import voucher_check
from shugu.client import Client, ShuguAPIError
from shugu.contracts.models import Agreement
from shugu.db import utcnow
from tests.billing.conftest import Market, days_ago, profile_token
from tests.conftest import Orgs


def api_error(call: Callable[[], Any]) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()
    return info.value


def test_one_time_is_billed_once(market: Market) -> None:
    deal = market.agree("one_time", 1_000_000)
    [invoice] = market.operator.run_billing(utcnow())
    assert invoice.agreement_number == deal.number and invoice.total_fen == 1_000_000
    assert invoice.total_yuan == "10000.00" and invoice.status == "issued"
    assert [(x.kind, x.quantity, x.amount_fen) for x in invoice.lines] == \
        [("one_time", 1, 1_000_000)]
    # Billing again bills nothing new.
    assert market.operator.run_billing(utcnow()) == []


def test_subscription_bills_each_started_period_once(market: Market) -> None:
    # Started 70 days ago: three monthly periods have begun by now.
    market.agree("subscription", 50_000, period="month", valid_from=days_ago(70))
    [invoice] = market.operator.run_billing(utcnow())
    assert [x.kind for x in invoice.lines] == ["subscription"] * 3
    assert invoice.total_fen == 150_000
    starts = [x.service_from for x in invoice.lines]
    assert starts == sorted(starts) and len(set(starts)) == 3
    assert market.operator.run_billing(utcnow()) == []


def test_subscription_stops_at_the_agreement_end(market: Market) -> None:
    market.agree("subscription", 50_000, period="month", valid_from=days_ago(70),
                 valid_until=days_ago(50))
    [invoice] = market.operator.run_billing(utcnow())
    assert len(invoice.lines) == 1
    assert invoice.lines[0].service_to is not None


def test_per_query_and_per_rows_bill_real_deliveries(market: Market, tmp_path: Path) -> None:
    market.agree("per_query", 250)
    token = profile_token(market.consumer, tmp_path)
    market.query(token, 3)
    [invoice] = market.operator.run_billing(utcnow())
    assert [(x.kind, x.quantity, x.unit, x.amount_fen) for x in invoice.lines] == \
        [("per_query", 3, "queries", 750)]
    # Later usage goes on the next invoice, never twice.
    market.query(token, 1)
    [second] = market.operator.run_billing(utcnow())
    assert second.total_fen == 250 and second.period_start == invoice.period_end


def test_per_1000_rows(market: Market, orgs: Orgs, tmp_path: Path) -> None:
    market.agree("per_1000_rows", 33)
    token = profile_token(market.consumer, tmp_path)
    market.query(token, 2)  # 2 × 2,500 rows (the file's statistics)
    [invoice] = market.operator.run_billing(utcnow())
    line = invoice.lines[0]
    assert (line.quantity, line.unit, line.unit_size) == (5000, "rows", 1000)
    assert line.amount_fen == 165  # 5 × 33 fen


def test_void_releases_usage_for_the_next_run(market: Market, tmp_path: Path) -> None:
    market.agree("per_query", 100)
    market.query(profile_token(market.consumer, tmp_path), 2)
    [invoice] = market.operator.run_billing(utcnow())
    assert api_error(lambda: market.operator.void_invoice(invoice.number, "  ")).code == \
        "reason_required"
    voided = market.operator.void_invoice(invoice.number, "价格录入错误")
    assert voided.status == "void" and voided.void_reason == "价格录入错误"
    assert api_error(lambda: market.operator.void_invoice(invoice.number, "x")).code == \
        "invoice_not_voidable"
    [again] = market.operator.run_billing(utcnow())
    assert again.number != invoice.number and again.total_fen == 200


def test_a_cutoff_to_the_second_includes_that_second(market: Market) -> None:
    """`billing run --until <now, as printed to the second>` bills the agreement concluded a
    moment earlier in the same second; a cut-off with a fraction is taken exactly."""
    deal = market.agree("one_time", 700)
    with market.exchange.read() as s:
        begun = s.get(Agreement, deal.agreement_id).created_at  # type: ignore[union-attr]
    # Same second, but a fraction before it began: exact, so nothing is due yet.
    if begun.microsecond:
        assert market.operator.run_billing(begun - timedelta(microseconds=1)) == []
    [invoice] = market.operator.run_billing(begun.replace(microsecond=0))
    assert invoice.agreement_number == deal.number
    # The cut-off never reaches past now, so the period ends by now at the latest.
    assert invoice.period_end <= utcnow()
    assert market.operator.run_billing(begun.replace(microsecond=0)) == []


def test_cutoff_cannot_be_in_the_future(market: Market) -> None:
    from datetime import timedelta

    err = api_error(lambda: market.operator.run_billing(utcnow() + timedelta(days=1)))
    assert (err.status, err.code) == (400, "billing_cutoff_in_future")


def test_settlement_split_and_vouchers(market: Market, tmp_path: Path) -> None:
    # Queries before the one-time purchase: once it exists, it covers them (no marginal
    # cost, docs/contracts.md) and the per-query plan has nothing to bill.
    market.agree("per_query", 500)
    market.query(profile_token(market.consumer, tmp_path), 2)
    market.agree("one_time", 100_001)
    invoices = market.operator.run_billing(utcnow())
    assert len(invoices) == 2
    stl = market.operator.settle()
    assert stl.invoice_count == 2 and stl.total_fen == 101_001
    assert len(stl.vouchers) == 2
    for line in stl.lines:
        assert line.provider_fen + line.broker_fen + line.platform_fen == line.total_fen
        assert (line.provider_bp, line.broker_bp, line.platform_bp) == (9000, 0, 1000)
    one_time = next(x for x in stl.lines if x.total_fen == 100_001)
    assert (one_time.provider_fen, one_time.platform_fen) == (90_001, 10_000)
    statement = {p.org_id: p for p in stl.statement}
    consumer_id = market.consumer.org_id  # type: ignore[attr-defined]
    provider_id = market.provider.org_id  # type: ignore[attr-defined]
    assert statement[consumer_id].pays_fen == 101_001
    assert statement[provider_id].receives_fen == 90_001 + 900
    assert sum(p.receives_fen for p in stl.statement) == 101_001
    # The invoices are settled and carry their voucher; nothing is left to settle.
    settled = market.consumer.invoices().items
    assert {i.status for i in settled} == {"settled"} and all(i.voucher for i in settled)
    assert api_error(market.operator.settle).code == "nothing_to_settle"
    assert market.operator.settlement(stl.number).number == stl.number
    assert [s.number for s in market.operator.settlements().items] == [stl.number]


def test_voucher_evidence_verifies_offline_and_tampering_is_caught(market: Market) -> None:
    deal = market.agree("one_time", 88_800)
    market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    number = stl.vouchers[0]
    voucher = market.consumer.voucher(number)
    assert voucher.content["agreement"]["number"] == deal.number
    assert voucher.content["invoice"]["total_fen"] == 88_800
    bundle = market.consumer.voucher_evidence(number)
    key = market.consumer.public_key().public_key
    report = voucher_check.verify(bundle, key)
    assert report.ok, [c for c in report.checks if not c.ok]
    assert {c.name for c in report.checks} >= {"content", "tree_head", "links"}
    assert market.consumer.verify_voucher(bundle).ok

    forged = json.loads(json.dumps(bundle))
    forged["voucher"]["invoice"]["total_fen"] = 1
    failed = {c.name for c in voucher_check.verify(forged, key).checks if not c.ok}
    assert "content" in failed
    # Re-hashing the forged content does not help: the ledger holds the original hash.
    from shugu.billing.vouchers import content_hash

    forged["content_sha256"] = content_hash(forged["voucher"])
    assert not voucher_check.verify(forged, key).ok

    edited = json.loads(json.dumps(bundle))
    invoice_event = next(e for e in edited["events"] if e["action"] == "invoice.issued")
    invoice_event["opening"]["payload_json"] = \
        invoice_event["opening"]["payload_json"].replace("88800", "1")
    report = voucher_check.verify(edited, key)
    assert not report.ok and any(c.name.startswith("event") and not c.ok for c in report.checks)

    wrong_key = json.loads(json.dumps(bundle))
    assert not voucher_check.verify(wrong_key, "A" * 43 + "=").ok


def test_cost_items_csv(market: Market, tmp_path: Path) -> None:
    deal = market.agree("one_time", 123_456)
    market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    text = market.consumer.cost_items_csv()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "开票日期 invoice_date" and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["合约号 agreement"] == deal.number
    assert row["金额(元) amount_yuan"] == "1234.56"
    assert row["交易凭证号 voucher"] == stl.vouchers[0]
    # The provider bought nothing: its export holds only the header.
    assert len(market.provider.cost_items_csv().strip().splitlines()) == 1


def test_other_organisations_get_nothing(market: Market, orgs: Orgs) -> None:
    market.agree("one_time", 10_000)
    [invoice] = market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    number = stl.vouchers[0]
    stranger = orgs.new(["consumer", "provider"], "无关机构")
    assert stranger.invoices().items == []
    assert stranger.invoices(role="provider").items == []
    assert stranger.vouchers().items == []
    assert api_error(lambda: stranger.invoice(invoice.number)).code == "invoice_not_found"
    assert api_error(lambda: stranger.voucher(number)).code == "voucher_not_found"
    assert api_error(lambda: stranger.voucher_evidence(number)).code == "voucher_not_found"
    assert api_error(lambda: stranger.void_invoice(invoice.number, "x")).status == 404
    assert api_error(lambda: stranger.invoices(role="all")).code == \
        "operator_or_auditor_required"
    assert api_error(stranger.settlements).status == 403
    assert api_error(lambda: stranger.settlement(stl.number)).status == 403
    assert api_error(lambda: stranger.run_billing(utcnow())).code == "operator_required"
    assert api_error(stranger.settle).code == "operator_required"
    # The parties themselves may not run billing or void either.
    assert api_error(lambda: market.consumer.void_invoice(invoice.number, "x")).code == \
        "operator_required"
    # Each side sees its own.
    assert [i.number for i in market.consumer.invoices().items] == [invoice.number]
    assert [i.number for i in market.provider.invoices(role="provider").items] == \
        [invoice.number]
    assert market.provider.voucher(number).number == number


def test_auditor_reads_everything(market: Market, orgs: Orgs) -> None:
    market.agree("one_time", 10_000)
    market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    auditor = orgs.new(["auditor"], "审计机构")
    assert len(auditor.invoices(role="all").items) == 1
    assert auditor.settlement(stl.number).total_fen == 10_000
    bundle = auditor.voucher_evidence(stl.vouchers[0])
    assert voucher_check.verify(bundle, auditor.public_key().public_key).ok
    assert api_error(auditor.settle).code == "operator_required"


def test_billing_events_are_on_the_ledger(market: Market) -> None:
    market.agree("one_time", 500)
    [invoice] = market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    actions = [e.action for e in market.operator.events(limit=500).items]
    for action in ("invoice.issued", "settlement.completed", "voucher.issued"):
        assert action in actions
    assert market.operator.event(invoice.ledger_seq).opening.payload[  # type: ignore[union-attr]
        "total_fen"] == 500
    assert market.operator.event(stl.ledger_seq).opening.payload[  # type: ignore[union-attr]
        "invoices"] == [invoice.number]


def test_concurrent_billing_runs_never_bill_twice(market: Market, tmp_path: Path) -> None:
    import threading

    market.agree("per_query", 7)
    market.query(profile_token(market.consumer, tmp_path), 5)  # before the one-time plans
    for price in (100, 200, 300):
        market.agree("one_time", price)
    cutoff = utcnow()
    results: list[list[Any]] = []
    errors: list[str] = []

    def run() -> None:
        with Client(market.server.url, market.operator.token) as c:
            try:
                results.append(c.run_billing(cutoff))
            except ShuguAPIError as exc:
                errors.append(exc.code)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(errors) <= {"billing_conflict"}
    issued = [i for batch in results for i in batch]
    assert sorted(i.total_fen for i in issued) == [35, 100, 200, 300]
    assert len(market.operator.invoices(role="all").items) == 4


def test_listing_split_with_a_broker(exchange: object, server: object, provider: Client,
                                     consumer: Client, operator: Client, orgs: Orgs) -> None:
    from tests.billing.conftest import SLUG, Market
    from tests.sharing.conftest import ingest, source

    broker = orgs.new(["broker"], "数据经纪商")
    provider.create_product(SLUG, "企业月度用电量")
    provider.create_table(SLUG, "use")
    ingest(provider, SLUG, "use", source(0, 10))
    listing = provider.submit_listing(SLUG)
    operator.approve_listing(listing.id, provider_bp=8500, broker_bp=500, platform_bp=1000,
                             broker_org_id=broker.org_id)  # type: ignore[attr-defined]
    market = Market(exchange, server, provider, consumer, operator)  # type: ignore[arg-type]
    market.agree("one_time", 99_999)
    market.operator.run_billing(utcnow())
    stl = market.operator.settle()
    [line] = stl.lines
    assert (line.provider_bp, line.broker_bp, line.platform_bp) == (8500, 500, 1000)
    assert (line.provider_fen, line.broker_fen, line.platform_fen) == (85_001, 4_999, 9_999)
    assert line.broker_org_id == broker.org_id  # type: ignore[attr-defined]
    # The broker sees the trade it is paid for, and its voucher names it.
    assert [i.total_fen for i in broker.invoices(role="provider").items] == [99_999]
    voucher = broker.voucher(stl.vouchers[0])
    assert voucher.content["broker"]["name"].startswith("数据经纪商")
    assert voucher.content["split"]["broker_fen"] == 4_999


def test_times_without_a_zone_are_refused(market: Market) -> None:
    import httpx

    market.agree("one_time", 100)
    headers = {"Authorization": f"Bearer {market.operator.token}"}
    base = f"{market.server.url}/api/v1"
    for path in ("/billing/runs", "/settlements"):
        r = httpx.post(base + path, json={"until": "2026-11-01T00:00:00"}, headers=headers,
                       timeout=60)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
    r = httpx.get(base + "/billing/cost-items.csv", params={"start": "2026-11-01T00:00:00"},
                  headers={"Authorization": f"Bearer {market.consumer.token}"}, timeout=60)
    assert r.status_code == 422
    assert market.operator.invoices(role="all").items == []
