"""Products and tables over the real HTTP API, with the refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shugu.catalog.models import Product
from shugu.client import Client, ShuguAPIError
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs, list_product


def api_error(call: object) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()  # type: ignore[operator]
    return info.value


def make(client: Client, slug: str = "power-use") -> None:
    client.create_product(slug, "企业月度用电量", title_en="Monthly power use of enterprises",
                          tags=["电力", "energy", " 电力 "], category="能源",
                          update_frequency="monthly", data_source="抄表数据",
                          scenario="绿色信贷")


def test_create_and_read_a_product(provider: Client, consumer: Client, operator: Client,
                                   exchange: Exchange) -> None:
    make(provider)
    assert provider.get_product("power-use").status == "draft"
    # A draft is the provider's own until it has been listed.
    assert api_error(lambda: consumer.get_product("power-use")).code == "product_not_found"
    list_product(provider, operator, "power-use")
    product = consumer.get_product("power-use")
    assert product.status == "listed"
    assert product.title_zh == "企业月度用电量"
    assert product.tags == ["电力", "energy"]
    assert product.update_frequency == "monthly"
    assert product.provider_org_id == provider.org_id  # type: ignore[attr-defined]
    with exchange.read() as s:
        event = s.scalars(select(LedgerEvent).where(
            LedgerEvent.action == "product.created")).one()
    assert event.subject == "product:power-use"


def test_duplicate_slug_is_409_and_nothing_written(provider: Client, orgs: Orgs,
                                                   exchange: Exchange) -> None:
    make(provider)
    other = orgs.new(["provider"])
    e = api_error(lambda: make(other))
    assert (e.status, e.code) == (409, "duplicate_slug")
    with exchange.read() as s:
        assert s.scalar(select(func.count(Product.id))) == 1


def test_invalid_slug_and_fields(provider: Client) -> None:
    assert api_error(lambda: provider.create_product("Bad Slug", "x")).status == 422
    assert api_error(lambda: provider.create_product("ok-slug", "")).status == 422
    e = api_error(lambda: provider.create_product("ok-slug", "x", update_frequency="sometimes"))
    assert e.code == "invalid_request"


def test_only_providers_create_products(consumer: Client) -> None:
    e = api_error(lambda: make(consumer))
    assert (e.status, e.code) == (403, "role_required")


def test_another_organisations_product_is_refused(provider: Client, orgs: Orgs,
                                                  exchange: Exchange) -> None:
    make(provider)
    provider.create_table("power-use", "monthly")
    other = orgs.new(["provider"])
    before = _events(exchange)
    for call in (
        lambda: other.update_product("power-use", title_zh="抢走"),
        lambda: other.create_table("power-use", "stolen"),
        lambda: other.ingest("power-use", "monthly", b"a,b\n1,2\n"),
        lambda: other.publish_revision("power-use", "r1"),
        lambda: other.revoke_revision("power-use", 1, "x"),
    ):
        e = api_error(call)
        assert (e.status, e.code) == (403, "not_product_owner")
    assert provider.get_product("power-use").title_zh == "企业月度用电量"
    assert _events(exchange) == before


def test_update_product(provider: Client) -> None:
    make(provider)
    updated = provider.update_product("power-use", title_en="Power", tags=["电力"])
    assert updated.title_en == "Power" and updated.tags == ["电力"]
    assert updated.title_zh == "企业月度用电量"
    assert api_error(lambda: provider.update_product("power-use", title_zh=None)).code in {
        "invalid_input", "invalid_request"}


def test_tables(provider: Client) -> None:
    make(provider)
    table = provider.create_table("power-use", "monthly", description="按月",
                                  partition_by=["city"])
    assert table.current_version is None and table.partition_by == ["city"]
    e = api_error(lambda: provider.create_table("power-use", "monthly"))
    assert (e.status, e.code) == (409, "duplicate_table")
    assert api_error(lambda: provider.create_table("power-use", "Bad-Name")).status == 422
    assert api_error(lambda: provider.create_table("nope", "t")).code == "product_not_found"


def test_revision_needs_data(provider: Client) -> None:
    make(provider)
    assert api_error(lambda: provider.publish_revision("power-use", "r1")).code == \
        "empty_revision"
    provider.create_table("power-use", "monthly")
    assert api_error(lambda: provider.publish_revision("power-use", "r1")).code == "table_empty"


def test_products_are_listed_with_pagination(provider: Client, consumer: Client,
                                             operator: Client) -> None:
    for i in range(5):
        make(provider, f"product-{i}")
        list_product(provider, operator, f"product-{i}")
    make(provider, "product-draft")  # not listed: the provider's own only
    assert provider.list_products().total == 6
    page = consumer.list_products(limit=2)
    slugs = [p.slug for p in page.items]
    while page.next_page_token:
        page = consumer.list_products(limit=2, page_token=page.next_page_token)
        slugs += [p.slug for p in page.items]
    assert slugs == [f"product-{i}" for i in range(5)]
    mine = consumer.list_products(provider_org_id=provider.org_id)  # type: ignore[attr-defined]
    assert mine.total == 5


def _events(exchange: Exchange) -> int:
    with exchange.read() as s:
        return int(s.scalar(select(func.count(LedgerEvent.seq))) or 0)


def test_revisions_pin_table_versions_and_can_be_revoked(provider: Client, consumer: Client,
                                                         operator: Client,
                                                         exchange: Exchange) -> None:
    make(provider)
    provider.create_table("power-use", "monthly")
    provider.create_table("power-use", "by_city")
    provider.ingest("power-use", "monthly", b"month,kwh\n2024-01,1\n")
    provider.ingest("power-use", "by_city", "city,kwh\n杭州,1\n".encode())
    first = provider.publish_revision("power-use", "2024-01", note="一月")
    assert (first.number, first.table_versions) == (1, {"monthly": 0, "by_city": 0})
    provider.ingest("power-use", "monthly", b"month,kwh\n2024-02,2\n")
    second = provider.publish_revision("power-use", "2024-02", tables=["monthly"])
    assert (second.number, second.table_versions) == (2, {"monthly": 1})
    assert api_error(lambda: provider.publish_revision("power-use", "2024-02")).code == \
        "duplicate_revision"
    assert api_error(lambda: provider.publish_revision("power-use", "x", tables=["nope"])
                     ).code == "table_not_found"

    revoked = provider.revoke_revision("power-use", 1, "数据有误 wrong totals")
    assert revoked.status == "revoked" and revoked.revoke_reason == "数据有误 wrong totals"
    e = api_error(lambda: provider.revoke_revision("power-use", 1, "again"))
    assert (e.status, e.code) == (409, "revision_revoked")
    assert api_error(lambda: provider.revoke_revision("power-use", 9, "x")).code == \
        "revision_not_found"
    # Consumers read the revisions of listed products; they cannot revoke them.
    assert api_error(lambda: consumer.list_revisions("power-use")).code == "product_not_found"
    list_product(provider, operator, "power-use")
    assert [r.status for r in consumer.list_revisions("power-use")] == ["revoked", "published"]
    assert consumer.get_revision("power-use", 2).table_versions == {"monthly": 1}
    assert api_error(lambda: consumer.revoke_revision("power-use", 2, "x")).code == \
        "not_product_owner"
    with exchange.read() as s:
        actions = list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject.like("product:power-use/revision:%")).order_by(LedgerEvent.seq)))
    assert actions == ["revision.published", "revision.published", "revision.revoked"]


def test_overlong_tag_is_refused_and_nothing_written(provider: Client,
                                                     exchange: Exchange) -> None:
    before = _events(exchange)
    e = api_error(lambda: provider.create_product("tagged", "标签", tags=["长" * 101]))
    assert (e.status, e.code) == (400, "invalid_tag")
    assert _events(exchange) == before
    assert api_error(lambda: provider.get_product("tagged")).code == "product_not_found"
