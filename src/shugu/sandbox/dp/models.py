"""The privacy budget row: how much ε an entitlement may spend on noisy releases in total."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

# ε is stored as an integer number of micro-epsilons: a conditional UPDATE can then compare
# and add exactly, with the same result on SQLite and PostgreSQL (no float rounding).
MICRO = 1_000_000


class PrivacyBudget(Base):
    __tablename__ = "privacy_budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlements.id"), unique=True)
    total_micro_epsilon: Mapped[int] = mapped_column(BigInteger)
    spent_micro_epsilon: Mapped[int] = mapped_column(BigInteger, default=0)
    # None: the total is for the entitlement's whole life; "daily"/"monthly": what was spent
    # is forgotten at the start of each day/month (Beijing time), as the provider chose.
    refresh: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
