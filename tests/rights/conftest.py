"""Rights fixtures: a provider's product with a published, fingerprinted revision, and a
helper that plays the registration through review and public notice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shugu.catalog.models import DataTable
from shugu.client import Client, ShuguAPIError
from shugu.db import utcnow
from shugu.rights.models import Certificate, Registration
from shugu.runtime import Exchange

SLUG = "power-use"
CSV_1 = "district,month,kwh\n西湖区,2024-01,1200\n上城区,2024-01,980\n".encode()
CSV_2 = "district,month,kwh\n西湖区,2024-02,1300\n".encode()


def api_error(call: object) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()  # type: ignore[operator]
    return info.value


def make_product(client: Client, slug: str = SLUG) -> str:
    client.create_product(slug, "企业月度用电量", title_en="Monthly power use")
    client.create_table(slug, "monthly")
    client.create_table(slug, "districts")
    client.ingest(slug, "monthly", CSV_1, format="csv", filename="m1.csv")
    client.ingest(slug, "monthly", CSV_2, format="csv", filename="m2.csv")
    client.ingest(slug, "districts", "name\n西湖区\n".encode(), format="csv")
    client.publish_revision(slug, "2024-02")
    return slug


def product_dir(exchange: Exchange, slug: str = SLUG) -> Path:
    """The provider's copy: the directory holding one Delta table per table name."""
    with exchange.read() as s:
        location = s.scalars(select(DataTable.location).where(
            DataTable.name == "monthly")).first()
    assert location is not None
    return (exchange.settings.tables_dir / location).parent


def end_notice(exchange: Exchange, registration_id: int) -> None:
    """Let the public notice run out (the clock is the only thing we move)."""
    with exchange.transaction() as s:
        s.execute(update(Registration).where(Registration.id == registration_id).values(
            notice_end=utcnow() - timedelta(seconds=1)))


def expire(exchange: Exchange, number: str) -> None:
    with exchange.transaction() as s:
        s.execute(update(Certificate).where(Certificate.number == number).values(
            valid_until=utcnow() - timedelta(seconds=1)))


INITIAL = dict(rights=["holding", "processing_use", "operation"], source_kind="self_collected",
               source_description="电表自动采集", algorithm_rules="按区县、月份汇总，剔除个人用户",
               scenario="企业信贷风控", update_period="monthly")


def draft(provider: Client, slug: str = SLUG, revision: int = 1) -> int:
    provider.record_fingerprint(slug, revision)
    reg = provider.create_registration("initial", product=slug, revision=revision, **INITIAL)
    provider.upload_document(reg.id, "采集说明".encode(), filename="proof.txt",
                             description="采集方式", content_type="text/plain")
    return reg.id


def to_notice(operator: Client, applicant: Client, reg_id: int) -> None:
    applicant.submit_registration(reg_id)
    operator.review_registration(reg_id, "approve")
    operator.review_registration(reg_id, "approve")


def through(operator: Client, applicant: Client, exchange: Exchange, reg_id: int) -> str:
    """Submit, pass both reviews, let the notice end, issue; the certificate number."""
    to_notice(operator, applicant, reg_id)
    end_notice(exchange, reg_id)
    issued = operator.issue_registration(reg_id)
    assert issued.status == "issued"
    return issued.issued_certificate or ""


@pytest.fixture
def product(provider: Client) -> str:
    return make_product(provider)


@pytest.fixture
def certificate(operator: Client, provider: Client, exchange: Exchange, product: str) -> str:
    return through(operator, provider, exchange, draft(provider, product))
