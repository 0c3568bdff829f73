"""A buyer's cost items as CSV, for booking data resources (数据资产入表).

One row per invoice line, with the voucher that evidences it once settled. The header is
bilingual; the file starts with a UTF-8 byte-order mark because spreadsheet programs used
in Chinese finance departments otherwise misread UTF-8 text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu import spreadsheet
from shugu.billing.models import Invoice, InvoiceLine, Voucher
from shugu.billing.money import yuan
from shugu.billing.periods import CST
from shugu.catalog.models import Product
from shugu.contracts.models import Agreement
from shugu.identity.models import Organization
from shugu.identity.principal import Principal

HEADER = [
    "开票日期 invoice_date", "发票号 invoice", "交易凭证号 voucher", "合约号 agreement",
    "提供方 provider", "提供方信用代码 provider_uscc", "数据产品 product", "计费方式 plan",
    "说明 description", "数量 quantity", "单位 unit", "单价(元) unit_price_yuan",
    "计价单位 per_units", "金额(元) amount_yuan", "状态 status", "服务起 service_from",
    "服务止 service_to",
]


def _day(ts: datetime | None) -> str:
    return ts.astimezone(CST).strftime("%Y-%m-%d") if ts else ""


def cost_rows(session: Session, principal: Principal, start: datetime | None,
              end: datetime | None) -> Iterator[list[str]]:
    query = (select(InvoiceLine, Invoice, Agreement, Product, Organization, Voucher.number)
             .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
             .join(Agreement, Agreement.id == Invoice.agreement_id)
             .join(Product, Product.id == Invoice.product_id)
             .join(Organization, Organization.id == Invoice.provider_org_id)
             .outerjoin(Voucher, Voucher.invoice_id == Invoice.id)
             .where(Invoice.consumer_org_id == principal.org_id, Invoice.status != "void")
             .order_by(Invoice.issued_at, InvoiceLine.id))
    if start is not None:
        query = query.where(Invoice.issued_at >= start)
    if end is not None:
        query = query.where(Invoice.issued_at < end)
    for line, invoice, agreement, product, provider, voucher in session.execute(query):
        yield [_day(invoice.issued_at), invoice.number, voucher or "", agreement.number,
               provider.name, provider.uscc, product.slug, agreement.plan, line.description,
               str(line.quantity), line.unit, yuan(line.unit_price_fen), str(line.unit_size),
               yuan(line.amount_fen), invoice.status, _day(line.service_from),
               _day(line.service_to)]


def to_csv(rows: Iterator[list[str]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(spreadsheet.row(r) for r in rows)
    return out.getvalue()
