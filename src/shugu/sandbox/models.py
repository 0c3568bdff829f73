"""Analysis rules (versioned per table), queries, templates, reviews and private tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow


class AnalysisRule(Base):
    """One version of a table's rules; a change is a new row, never an update."""

    __tablename__ = "analysis_rules"
    __table_args__ = (UniqueConstraint("table_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("data_tables.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The validated rules document (schemas.RulesIn as JSON).
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SandboxQuery(Base):
    """Every query asked, answered or refused: the consumer's history and the provider's
    view of probing."""

    __tablename__ = "sandbox_queries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # {product id: entitlement id} of the products the query touches.
    entitlements: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    product_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    sql: Mapped[str] = mapped_column(Text)
    sql_sha256: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_templates.id"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("sandbox_reviews.id"))
    # "succeeded" | "refused" | "failed"
    status: Mapped[str] = mapped_column(String(20), index=True)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # {"slug.table": rule version}, {"slug.table": Delta version}
    rule_versions: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    table_versions: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Differencing defence: same fingerprint = same tables, joins, grouping and identity.
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # What the defence needs to recompute an earlier query's identity sets.
    shape: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)
    truncated: Mapped[bool] = mapped_column(default=False)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    result_file: Mapped[str | None] = mapped_column(String(200))
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    @property
    def dp(self) -> dict[str, Any] | None:
        """What a differentially private answer spent and how accurate it is (kept in
        `shape`, so answers need no extra column)."""
        return (self.shape or {}).get("dp")


class QueryTemplate(Base):
    """A provider's parametrised query that consumers run with parameters."""

    __tablename__ = "sandbox_templates"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    sql: Mapped[str] = mapped_column(Text)
    # {name: "string" | "integer" | "number" | "date"}
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueryReview(Base):
    """A consumer's custom query awaiting the provider's decision; approved, it runs once."""

    __tablename__ = "sandbox_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sql: Mapped[str] = mapped_column(Text)
    sql_sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # "pending" | "approved" | "rejected" | "used"
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PrivateTable(Base):
    """A consumer's own table in its sandbox space; never listed to any provider."""

    __tablename__ = "sandbox_private_tables"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # File name under data_dir/sandbox/<org id>/ (a new name per upload: tables are immutable).
    file: Mapped[str] = mapped_column(String(200))
    columns: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
