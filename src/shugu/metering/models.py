"""One usage record per metered act of delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow


class UsageRecord(Base):
    __tablename__ = "usage_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlements.id"), index=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # e.g. "share.query", "share.bytes", "sandbox.query"
    kind: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Set when billing charges this record on an invoice, so nothing is billed twice.
    invoice_id: Mapped[int | None] = mapped_column(Integer, index=True)
