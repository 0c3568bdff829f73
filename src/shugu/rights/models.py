"""Fingerprints, registrations, proof documents, objections, certificates, licences, pledges.

Money is integer fen (分); no column here holds a float.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

# The three rights of the 数据二十条 split, with the labels a certificate prints.
RIGHTS: dict[str, tuple[str, str]] = {
    "holding": ("数据资源持有权", "right to hold data resources"),
    "processing_use": ("数据加工使用权", "right to process and use data"),
    "operation": ("数据产品经营权", "right to operate data products"),
}
KINDS = ("initial", "licence", "transfer", "change", "cancellation")
SOURCE_KINDS = ("self_collected", "acquired")
STATUSES = ("draft", "formal_review", "substantive_review", "changes_requested", "rejected",
            "withdrawn", "public_notice", "issued", "refused")


class Fingerprint(Base):
    """存证: the Merkle root over one revision's data files, computed once."""

    __tablename__ = "fingerprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), unique=True)
    algorithm: Mapped[str] = mapped_column(String(50))
    root: Mapped[str] = mapped_column(String(64), index=True)
    table_versions: Mapped[dict[str, int]] = mapped_column(JSON)
    # [{"table", "path", "size", "sha256"}] in leaf order.
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Registration(Base):
    """An application to register, licence, transfer, change or cancel rights."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    applicant_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(30), default="draft", index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # initial and change: the fingerprinted revision the rights attach to.
    fingerprint_id: Mapped[int | None] = mapped_column(ForeignKey("fingerprints.id"))
    # licence, transfer, change, cancellation: the certificate acted on.
    # Plain integers, not foreign keys: certificates and pledges refer to registrations, and
    # a cycle of foreign keys cannot be created table by table on PostgreSQL.
    certificate_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data_name: Mapped[str] = mapped_column(String(300))
    rights: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_kind: Mapped[str | None] = mapped_column(String(20))
    source_description: Mapped[str | None] = mapped_column(Text)
    algorithm_rules: Mapped[str | None] = mapped_column(Text)
    scenario: Mapped[str | None] = mapped_column(Text)
    update_period: Mapped[str | None] = mapped_column(String(50))
    # transfer: the new holder; licence: the licensee.
    counterparty_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    licence_scope: Mapped[str | None] = mapped_column(Text)
    licence_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # transfer after a pledge was enforced: the pledge that entitles the pledgee to apply.
    pledge_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    review_note: Mapped[str | None] = mapped_column(Text)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    notice_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notice_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The certificate this registration produced (initial, transfer, change).
    issued_certificate_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProofDocument(Base):
    __tablename__ = "proof_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Objection(Base):
    """An objection (异议) filed during a registration's public notice."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, upheld, dismissed
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Certificate(Base):
    """A signed registration certificate (登记证书). `content` is exactly what was signed."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    holder_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    fingerprint_id: Mapped[int] = mapped_column(ForeignKey("fingerprints.id"))
    rights: Mapped[list[str]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    # valid, transferred, superseded (by a change), cancelled; "pledged" and "expired" are
    # derived when the status is read.
    status: Mapped[str] = mapped_column(String(20), default="valid")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(100))


class Licence(Base):
    __tablename__ = "certificate_licences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"))
    licensee_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Pledge(Base):
    """质押: an encumbrance on a certificate in favour of a pledgee."""

    __tablename__ = "pledges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    pledgor_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    pledgee_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    term_start: Mapped[datetime] = mapped_column(UTCDateTime())
    term_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, released, enforced
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_note: Mapped[str | None] = mapped_column(Text)
