"""Listing review over the real API: every transition, every refusal, and who sees what."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shugu.client import Client, ShuguAPIError
from shugu.jsoncanon import canonical_bytes
from shugu.ledger.models import LedgerEvent
from shugu.review import service
from shugu.review.models import Listing
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.review.test_detectors import resident_id

ID_CARD = resident_id("33010619900101123")
PEOPLE = ("姓名,身份证号,手机,城市,金额\n"
          f"张三,{ID_CARD},13812345678,杭州,10.5\n"
          f"李四,{resident_id('33010219851231456')},13987654321,宁波,\n"
          f"王芳,{resident_id('33010319700615789')},15011112222,温州,3\n").encode()
SLUG = "people"


def api_error(call: Callable[[], object]) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()
    return info.value


def events(exchange: Exchange, action: str | None = None) -> list[LedgerEvent]:
    with exchange.read() as s:
        query = select(LedgerEvent).order_by(LedgerEvent.seq)
        if action:
            query = query.where(LedgerEvent.action == action)
        return list(s.scalars(query))


def payload(event: LedgerEvent) -> dict[str, Any]:
    value = event.payload
    return json.loads(value) if isinstance(value, str) else dict(value)


def count(exchange: Exchange) -> int:
    with exchange.read() as s:
        return int(s.scalar(select(func.count(LedgerEvent.seq))) or 0)


def make(provider: Client, slug: str = SLUG, data: bytes | None = PEOPLE) -> None:
    provider.create_product(slug, "居民联系信息", title_en="Resident contacts", tags=["民生"],
                            update_frequency="monthly")
    if data is not None:
        provider.create_table(slug, "contacts")
        provider.ingest(slug, "contacts", data, format="csv")


def visible_to(client: Client, slug: str = SLUG) -> bool:
    """Whether the product shows up for `client` in the product page, list and search."""
    try:
        client.get_product(slug)
        page = True
    except ShuguAPIError as exc:
        assert (exc.status, exc.code) == (404, "product_not_found")
        page = False
    listed = slug in [p.slug for p in client.list_products().items]
    found = slug in [h.slug for h in client.search("居民联系").items]
    assert page == listed == found, (page, listed, found)
    return page


def test_a_new_product_is_a_draft_seen_by_its_provider_and_operators_only(
        provider: Client, consumer: Client, operator: Client) -> None:
    make(provider)
    assert provider.get_product(SLUG).status == "draft"
    assert not visible_to(consumer)
    assert operator.get_product(SLUG).status == "draft"
    assert SLUG in [p.slug for p in provider.list_products().items]
    assert api_error(lambda: consumer.get_listing(SLUG)).code == "product_not_found"
    assert api_error(lambda: provider.get_listing(SLUG)).code == "listing_not_found"


def test_submit_scans_the_committed_version_and_records_the_reports(
        provider: Client, exchange: Exchange) -> None:
    make(provider)
    listing = provider.submit_listing(SLUG)
    assert (listing.status, listing.product_status) == ("in_review", "in_review")
    assert listing.table_versions == {"contacts": 0}
    assert listing.risk_grade == "high"
    assert {"id_card", "mobile", "person_name"} <= set(listing.personal_information or [])
    columns = listing.compliance["tables"]["contacts"]["columns"]  # type: ignore[index]
    assert columns["身份证号"]["detections"]["id_card"]["matches"] == 3
    assert columns["手机"]["detections"]["mobile"]["samples"][0].count("*") == 4
    assert listing.compliance["tables"]["contacts"]["rows_scanned"] == 3  # type: ignore[index]
    quality = listing.quality["tables"]["contacts"]  # type: ignore[index]
    assert quality["dimensions"]["completeness"]["columns"]["金额"] == round(2 / 3, 4)
    assert quality["dimensions"]["timeliness"]["score"] == 100.0
    assert listing.compliance_sha256 == hashlib.sha256(
        canonical_bytes(listing.compliance)).hexdigest()
    # No full personal value leaves the scan: not in the answer, nor in the database.
    assert ID_CARD not in listing.model_dump_json() and "13812345678" not in \
        listing.model_dump_json()
    with exchange.read() as s:
        row = s.get(Listing, listing.id)
        assert row is not None
        assert ID_CARD not in json.dumps(row.compliance, ensure_ascii=False)
    (event,) = events(exchange, "listing.submitted")
    assert event.subject == f"product:{SLUG}"
    assert payload(event)["compliance_sha256"] == listing.compliance_sha256
    assert payload(event)["quality_sha256"] == listing.quality_sha256
    assert payload(event)["risk_grade"] == "high"


def test_approve_lists_the_product_with_its_split(provider: Client, consumer: Client,
                                                  operator: Client, orgs: Orgs,
                                                  exchange: Exchange) -> None:
    make(provider)
    submitted = provider.submit_listing(SLUG)
    assert not visible_to(consumer)  # in review: still the provider's own
    queue = operator.listing_queue()
    assert [i.id for i in queue.items] == [submitted.id] and queue.total == 1
    assert queue.items[0].compliance is None  # the queue is a summary
    broker = orgs.new(["broker"], "数据商")
    approved = operator.approve_listing(submitted.id, provider_bp=8500, platform_bp=1000,
                                        broker_org_id=broker.org_id,  # type: ignore[attr-defined]
                                        broker_bp=500, note="合规")
    assert (approved.status, approved.product_status) == ("listed", "listed")
    assert approved.split is not None and approved.split.broker_bp == 500
    assert visible_to(consumer)
    assert operator.listing_queue().items == []
    with exchange.read() as s:
        split = service.current_split(s, provider.get_product(SLUG).id)
    assert (split.provider_bp, split.platform_bp, split.broker_bp) == (8500, 1000, 500)
    (event,) = events(exchange, "listing.approved")
    assert payload(event)["split"]["broker_org_id"] == broker.org_id  # type: ignore[attr-defined]
    # Once listed, anyone sees the quality report, and only that.
    public = consumer.get_listing(SLUG)
    assert public.quality is not None and public.quality_score is not None
    assert public.compliance is None and public.risk_grade is None and public.split is None
    assert provider.get_listing(SLUG).compliance is not None


def test_reject_needs_reasons_then_the_provider_resubmits(provider: Client, consumer: Client,
                                                          operator: Client,
                                                          exchange: Exchange) -> None:
    make(provider)
    first = provider.submit_listing(SLUG)
    before = count(exchange)
    for reasons in ([], ["  "]):
        e = api_error(lambda r=reasons: operator.reject_listing(first.id, r))
        assert (e.status, e.code) == (400, "reasons_required")
    assert count(exchange) == before
    rejected = operator.reject_listing(first.id, ["含未脱敏身份证号 unmasked ID numbers"])
    assert (rejected.status, rejected.product_status) == ("rejected", "rejected")
    assert rejected.reasons == ["含未脱敏身份证号 unmasked ID numbers"]
    assert not visible_to(consumer)
    assert provider.get_listing(SLUG).reasons == rejected.reasons
    # The provider fixes the data (a new version) and submits again.
    provider.ingest(SLUG, "contacts", "姓名,身份证号,手机,城市,金额\n".encode() +
                    "张*,0,0,杭州,1.0\n".encode(), format="csv", mode="overwrite")
    second = provider.submit_listing(SLUG)
    assert second.id != first.id and second.table_versions == {"contacts": 1}
    assert second.risk_grade == "low" and second.status == "in_review"
    operator.approve_listing(second.id)
    assert visible_to(consumer)
    assert [e.action for e in events(exchange) if e.action.startswith("listing.")] == [
        "listing.submitted", "listing.rejected", "listing.submitted", "listing.approved"]


def test_delist_by_provider_or_operator_and_relist(provider: Client, consumer: Client,
                                                   operator: Client, server: LiveServer,
                                                   exchange: Exchange) -> None:
    make(provider)
    operator.approve_listing(provider.submit_listing(SLUG).id)
    provider.grant_entitlement(consumer.org_id, SLUG)  # type: ignore[attr-defined]
    profile = consumer.sharing_profile()
    e = api_error(lambda: provider.delist(SLUG, "  "))
    assert (e.status, e.code) == (400, "reason_required")
    delisted = provider.delist(SLUG, "数据更新中")
    assert (delisted.status, delisted.product_status) == ("delisted", "delisted")
    assert delisted.delist_reason == "数据更新中"
    assert not visible_to(consumer)
    assert api_error(lambda: consumer.get_listing(SLUG)).code == "product_not_found"
    # Delivery under existing entitlements is not gated by listing.
    shares = httpx.get(f"{server.url}/delta-sharing/shares",
                       headers={"Authorization": f"Bearer {profile['bearerToken']}"},
                       timeout=60).json()
    assert SLUG in [s["name"] for s in shares["items"]]
    e = api_error(lambda: provider.delist(SLUG, "again"))
    assert (e.status, e.code) == (409, "not_listed")
    again = provider.submit_listing(SLUG)
    operator.approve_listing(again.id, provider_bp=9500, platform_bp=500)
    assert visible_to(consumer)
    operator.delist(SLUG, "违规 policy breach")
    assert not visible_to(consumer)
    by = [payload(e)["by"] for e in events(exchange, "listing.delisted")]
    assert by == ["provider", "operator"]
    with exchange.read() as s:  # billing keeps the last approved split after a delisting
        assert service.current_split(s, provider.get_product(SLUG).id).provider_bp == 9500


def test_refusals_write_nothing(provider: Client, consumer: Client, operator: Client,
                                orgs: Orgs, exchange: Exchange) -> None:
    make(provider)
    make(provider, "empty", data=None)
    other = orgs.new(["provider"], "别家")
    before = count(exchange)

    def refused(call: Callable[[], Any], status: int, code: str) -> None:
        e = api_error(call)
        assert (e.status, e.code) == (status, code), e
        assert count(exchange) == before

    refused(lambda: consumer.submit_listing(SLUG), 403, "role_required")
    refused(lambda: other.submit_listing(SLUG), 404, "product_not_found")
    refused(lambda: provider.submit_listing("empty"), 400, "nothing_to_review")
    refused(lambda: provider.submit_listing("nope"), 404, "product_not_found")
    refused(lambda: provider.delist(SLUG, "x"), 409, "not_listed")
    refused(lambda: other.delist(SLUG, "x"), 404, "product_not_found")
    refused(lambda: provider.listing_queue(), 403, "operator_required")
    refused(lambda: operator.listing_queue(status="bogus"), 400, "invalid_status")
    refused(lambda: operator.approve_listing(999), 404, "listing_not_found")

    listing = provider.submit_listing(SLUG)
    before = count(exchange)
    refused(lambda: provider.submit_listing(SLUG), 409, "listing_in_review")
    refused(lambda: provider.approve_listing(listing.id), 403, "operator_required")
    refused(lambda: provider.reject_listing(listing.id, ["x"]), 403, "operator_required")
    refused(lambda: operator.approve_listing(listing.id, provider_bp=9000, platform_bp=900),
            400, "invalid_split")
    refused(lambda: operator.approve_listing(listing.id, provider_bp=9000, platform_bp=500,
                                             broker_bp=500), 400, "invalid_split")
    refused(lambda: operator.approve_listing(listing.id, provider_bp=9000, platform_bp=500,
                                             broker_org_id=other.org_id,  # type: ignore[attr-defined]
                                             broker_bp=500), 400, "not_a_broker")
    refused(lambda: provider.delist(SLUG, "x"), 409, "not_listed")

    operator.approve_listing(listing.id)
    before = count(exchange)
    refused(lambda: operator.approve_listing(listing.id), 409, "listing_not_in_review")
    refused(lambda: operator.reject_listing(listing.id, ["late"]), 409, "listing_not_in_review")
    refused(lambda: provider.submit_listing(SLUG), 409, "already_listed")
    refused(lambda: other.submit_listing(SLUG), 403, "not_product_owner")
    refused(lambda: other.delist(SLUG, "x"), 403, "not_product_owner")
    refused(lambda: consumer.delist(SLUG, "x"), 403, "not_product_owner")


def test_another_organisation_gets_nothing_before_listing(provider: Client, consumer: Client,
                                                          orgs: Orgs, operator: Client) -> None:
    make(provider)
    listing = provider.submit_listing(SLUG)
    other = orgs.new(["provider", "consumer"], "别家")
    for client in (consumer, other):
        assert api_error(lambda c=client: c.get_listing(SLUG)).code == "product_not_found"
        assert api_error(lambda c=client: c.list_revisions(SLUG)).code == "product_not_found"
        assert api_error(lambda c=client: c.approve_listing(listing.id)).code == \
            "operator_required"
        assert not visible_to(client)
    operator.reject_listing(listing.id, ["缺少数据来源证明"])
    assert api_error(lambda: consumer.get_listing(SLUG)).code == "product_not_found"


def test_current_split_defaults_before_any_approval(provider: Client,
                                                    exchange: Exchange) -> None:
    make(provider)
    with exchange.read() as s:
        split = service.current_split(s, provider.get_product(SLUG).id)
    assert (split.provider_bp, split.platform_bp, split.broker_org_id) == (9000, 1000, None)
