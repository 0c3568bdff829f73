"""Products, their Delta tables, ingests, revisions and the search index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shugu.db import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    description_zh: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    update_frequency: Mapped[str | None] = mapped_column(String(50))
    data_source: Mapped[str | None] = mapped_column(Text)
    scenario: Mapped[str | None] = mapped_column(Text)
    # Indexed: listing and counting the visible products reads this index, not the wide rows.
    # draft → in_review → listed | rejected; listed → delisted (see shugu.review).
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # How many rows per table the provider lets others preview (0: no sample); see
    # catalog.sample for when the preview is actually shown.
    sample_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    tables: Mapped[list[DataTable]] = relationship(
        back_populates="product", order_by="DataTable.id"
    )


class ProductTag(Base):
    """One row per (product, tag) so that tag filters use an index on both databases."""

    __tablename__ = "product_tags"
    # (tag, product_id): a tag's products straight from the index, newest last.
    __table_args__ = (Index("ix_product_tags_tag", "tag", "product_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class DataTable(Base):
    __tablename__ = "data_tables"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    # Directory of the Delta table, relative to the data dir's tables/ folder.
    location: Mapped[str] = mapped_column(String(500))
    # The Delta version shugu has committed to; a newer version on disk is an interrupted ingest.
    current_version: Mapped[int | None] = mapped_column(BigInteger)
    schema_json: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    partition_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="tables")


class Ingest(Base):
    """One successful ingest: the Delta version it produced."""

    __tablename__ = "ingests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("data_tables.id"), index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(20))
    source_format: Mapped[str] = mapped_column(String(20))
    source_name: Mapped[str | None] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    encoding: Mapped[str | None] = mapped_column(String(20))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("product_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    # {table name: Delta version}
    table_versions: Mapped[dict[str, int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(Text)


class SearchTerm(Base):
    """Inverted index: CJK unigrams/bigrams and lower-cased Latin words per product field.

    The primary key keeps each term's entries in impact order (highest weight, then newest
    product) so the best matches of a common term are read without sorting; SQLite stores
    the rows themselves in that order (WITHOUT ROWID). The (product_id, term) index serves
    re-indexing and checking a candidate product for the query's other terms; it is not
    declared unique because SQLite then stops reading the weight from it (the search module
    writes each (product, term) once).
    """

    __tablename__ = "search_terms"
    __table_args__ = (
        PrimaryKeyConstraint("term", "weight", "product_id"),
        Index("ix_search_terms_product_id", "product_id", "term", postgresql_include=["weight"]),
        {"sqlite_with_rowid": False},
    )

    term: Mapped[str] = mapped_column(String(100))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    weight: Mapped[int] = mapped_column(Integer)
