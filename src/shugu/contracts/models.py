"""Offers, negotiations and the agreements they conclude.

Money is integer fen (分, CNY) everywhere; no column here holds a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

# How an offer is priced. Subscriptions carry a period ("month" or "year").
PLANS = ("one_time", "subscription", "per_query", "per_1000_rows", "per_gb")
PERIODS = ("month", "year")
VISIBILITIES = ("public", "private")
APPROVALS = ("instant", "manual")

# Dataspace Protocol contract negotiation states.
STATES = ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED")
FINAL_STATES = ("FINALIZED", "TERMINATED")


class Offer(Base):
    """A price plan plus a usage policy on one product, public or private to one consumer."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(String(20))
    period: Mapped[str | None] = mapped_column(String(10))
    # Price of the plan's unit in fen: the whole purchase, one period, one query,
    # 1,000 rows or one GB (10^9 bytes).
    price_fen: Mapped[int] = mapped_column(BigInteger)
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    private_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    approval: Mapped[str] = mapped_column(String(10), default="instant")
    # The ODRL-style usage policy (see docs/contracts.md).
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Negotiation(Base):
    """One consumer's negotiation over one offer; `terms` is the proposal on the table."""

    __tablename__ = "negotiations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    purpose: Mapped[str] = mapped_column(String(50))
    purpose_text: Mapped[str | None] = mapped_column(Text)
    # Current proposal: {"plan", "period", "price_fen", "policy"}; who proposed it last.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    proposed_by: Mapped[str] = mapped_column(String(10))
    termination_reason: Mapped[str | None] = mapped_column(Text)
    agreement_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NegotiationStep(Base):
    """The history of a negotiation: every message and the state it led to."""

    __tablename__ = "negotiation_steps"
    __table_args__ = (UniqueConstraint("negotiation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    # request, offer, accept, agree, verify, finalize, terminate
    message: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    # "consumer", "provider" or "system" (an instant offer answered on the provider's behalf)
    side: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(200))
    terms: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Agreement(Base):
    """The frozen terms of a concluded negotiation. `terms` never changes after creation;
    `terms_hash` is SHA-256 over its canonical JSON and is written to the ledger."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id"), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Copied out of `terms` for billing queries.
    plan: Mapped[str] = mapped_column(String(20))
    period: Mapped[str | None] = mapped_column(String(10))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    terms_hash: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entitlement_id: Mapped[int | None] = mapped_column(ForeignKey("entitlements.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    termination_reason: Mapped[str | None] = mapped_column(Text)
    # The delete-after-expiry duty: when the consumer declared the data deleted.
    deletion_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
