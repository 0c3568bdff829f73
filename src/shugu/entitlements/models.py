"""The entitlement row: who may use which product, how, until when, and how much."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

MODES = ("share", "sandbox")
QUOTA_KINDS = ("queries", "rows", "bytes", "downloads")


class Entitlement(Base):
    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    modes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Limits per quota kind; a kind that is absent is unlimited.
    quota_queries: Mapped[int | None] = mapped_column(BigInteger)
    quota_rows: Mapped[int | None] = mapped_column(BigInteger)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quota_downloads: Mapped[int | None] = mapped_column(BigInteger)
    used_queries: Mapped[int] = mapped_column(BigInteger, default=0)
    used_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    # "direct" (granted by the provider) or "agreement" (made by a concluded negotiation).
    source: Mapped[str] = mapped_column(String(20), default="direct")
    agreement_id: Mapped[int | None] = mapped_column(Integer)
    # What each use costs the consumer, copied from the agreement's price plan (None for a
    # direct grant): decides which of several live entitlements a use is charged to.
    plan: Mapped[str | None] = mapped_column(String(20))
    unit_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(Text)
