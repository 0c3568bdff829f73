"""Listing reviews: one row per submission of a product, with its reports and decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

# A listing's own life; the product's status mirrors its newest listing ("draft" before any).
LISTING_STATUSES = ("in_review", "listed", "rejected", "delisted")
BASIS_POINTS = 10_000


class Listing(Base):
    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # {table name: Delta version} the reports were made on.
    table_versions: Mapped[dict[str, int]] = mapped_column(JSON)
    compliance: Mapped[dict[str, Any]] = mapped_column(JSON)
    compliance_sha256: Mapped[str] = mapped_column(String(64))
    risk_grade: Mapped[str] = mapped_column(String(10))
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality_sha256: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    # Revenue split in basis points (sum 10000), set when approved; billing reads it.
    provider_bp: Mapped[int | None] = mapped_column(Integer)
    broker_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    broker_bp: Mapped[int | None] = mapped_column(Integer)
    platform_bp: Mapped[int | None] = mapped_column(Integer)
    delisted_by: Mapped[str | None] = mapped_column(String(200))
    delisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delist_reason: Mapped[str | None] = mapped_column(Text)
