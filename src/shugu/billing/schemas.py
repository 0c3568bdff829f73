"""API shapes of billing. Amounts are integer fen; `*_yuan` strings are for display."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class BillingRunIn(BaseModel):
    # Aware only: a cut-off without a time zone is ambiguous by eight hours here.
    until: AwareDatetime | None = Field(
        default=None, description="cut-off; default: start of the current month (UTC+8)")


class SettleIn(BaseModel):
    until: AwareDatetime | None = Field(
        default=None, description="settle only invoices issued before this instant")


class VoidIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    description: str
    quantity: int
    unit: str
    unit_price_fen: int
    unit_size: int
    amount_fen: int
    service_from: datetime | None
    service_to: datetime | None


class InvoiceOut(BaseModel):
    number: str
    agreement_id: int
    agreement_number: str
    product: str
    consumer_org_id: int
    provider_org_id: int
    period_start: datetime
    period_end: datetime
    currency: str
    total_fen: int
    total_yuan: str
    status: str
    settlement: str | None
    voucher: str | None
    issued_at: datetime
    void_reason: str | None
    ledger_seq: int
    lines: list[InvoiceLineOut]


class SettlementLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice: str
    total_fen: int
    consumer_org_id: int
    provider_org_id: int
    broker_org_id: int | None
    provider_bp: int
    broker_bp: int
    platform_bp: int
    provider_fen: int
    broker_fen: int
    platform_fen: int


class PartyTotal(BaseModel):
    org_id: int | None
    name: str | None
    pays_fen: int
    receives_fen: int


class SettlementOut(BaseModel):
    number: str
    total_fen: int
    total_yuan: str
    invoice_count: int
    created_by: str
    created_at: datetime
    ledger_seq: int
    lines: list[SettlementLineOut]
    statement: list[PartyTotal]
    vouchers: list[str]


class VoucherOut(BaseModel):
    number: str
    invoice: str
    settlement: str
    content: dict[str, Any]
    content_sha256: str
    ledger_seq: int
    issued_at: datetime


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class VoucherReportOut(BaseModel):
    number: str | None
    ok: bool
    checks: list[CheckOut]
