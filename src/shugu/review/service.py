"""The listing life of a product: submit (scan + quality report), approve, reject, delist.

    draft ──submit──▶ in_review ──approve──▶ listed ──delist──▶ delisted
                         │                                        │
                         └──reject──▶ rejected ◀── (fix data) ────┘ both may submit again

A submission scans every table of the product at its committed Delta version, outside any
database transaction (a scan of millions of rows must not hold SQLite's write lock), then
records the reports in one transaction that checks the product's status again. Delivery
(Delta Sharing, entitlements) is deliberately not gated by listing: contracts made while a
product was listed keep delivering after it is delisted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.catalog import search
from shugu.catalog.models import Ingest, Product
from shugu.catalog.permissions import can_see, find_product
from shugu.db import utcnow
from shugu.errors import Conflict, Forbidden, InvalidInput, NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.jsoncanon import canonical_bytes
from shugu.ledger import service as ledger
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.review import quality, scan, schemas
from shugu.review.engine import delta_relation
from shugu.review.models import BASIS_POINTS, LISTING_STATUSES, Listing
from shugu.runtime import Exchange

SUBMITTABLE = ("draft", "rejected", "delisted")
DEFAULT_SPLIT = schemas.Split()
Progress = Callable[[str, float], None]  # (table, percent)


def sha256(report: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(report)).hexdigest()


def _subject(product: Product) -> str:
    return f"product:{product.slug}"


def _set_status(session: Session, product: Product, status: str) -> None:
    product.status = status
    product.updated_at = utcnow()
    session.flush()
    search.index_product(session, product)


def _product_for_provider(session: Session, principal: Principal, slug: str) -> Product:
    """The caller's own product: 404 if they cannot even see it, 403 if it is someone else's."""
    product = find_product(session, slug)
    if not can_see(principal, product):
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    if product.provider_org_id != principal.org_id:
        raise Forbidden(f"product {slug!r} belongs to another organisation",
                        code="not_product_owner")
    return product


def _check_submittable(product: Product) -> None:
    if product.status == "in_review":
        raise Conflict(f"product {product.slug!r} is already in review", code="listing_in_review")
    if product.status == "listed":
        raise Conflict(f"product {product.slug!r} is already listed", code="already_listed")
    if product.status not in SUBMITTABLE:
        raise Conflict(f"product {product.slug!r} is {product.status}", code="invalid_status")


@dataclass(frozen=True)
class _Target:
    table: str
    directory: Any
    version: int
    last_commit_at: datetime | None


def _targets(ex: Exchange, principal: Principal, slug: str) -> tuple[Product, list[_Target]]:
    with ex.read() as s:
        product = _product_for_provider(s, principal, slug)
        _check_submittable(product)
        targets = []
        for table in product.tables:
            if table.current_version is None:
                continue
            last = s.scalar(select(func.max(Ingest.created_at)).where(
                Ingest.table_id == table.id, Ingest.version <= table.current_version))
            targets.append(_Target(table.name, ex.settings.tables_dir / table.location,
                                   table.current_version, last))
        if not targets:
            raise InvalidInput(f"product {slug!r} has no table with data to review",
                               code="nothing_to_review")
        return product, targets


def _per_table(progress: Progress | None, table: str) -> Callable[[float], None] | None:
    if progress is None:
        return None
    return lambda percent: progress(table, percent)


def submit(ex: Exchange, principal: Principal, slug: str,
           progress: Progress | None = None) -> Listing:
    """The provider asks for listing: scan and assess every table, record the review."""
    principal.require_role("provider")
    product, targets = _targets(ex, principal, slug)
    now = utcnow()
    compliance: dict[str, Any] = {}
    qualities: dict[str, Any] = {}
    for t in targets:
        relation = delta_relation(t.directory, t.version)
        report = scan.scan_relation(relation, progress=_per_table(progress, t.table))
        compliance[t.table] = {"version": t.version, **report}
        qualities[t.table] = {"version": t.version, **quality.assess(
            relation, update_frequency=product.update_frequency,
            last_commit_at=t.last_commit_at, now=now)}
    grade, kinds = scan.risk_grade(compliance)
    compliance_report = {"product": slug, "scanned_at": now.isoformat(), "risk_grade": grade,
                         "personal_information": kinds, "tables": compliance}
    scores = [q["overall"] for q in qualities.values() if q["overall"] is not None]
    quality_report = {"product": slug, "assessed_at": now.isoformat(),
                      "overall": round(sum(scores) / len(scores), 1) if scores else None,
                      "tables": qualities}
    versions = {t.table: t.version for t in targets}
    with ex.transaction() as s:
        product = s.scalars(select(Product).where(Product.id == product.id)
                            .with_for_update()).one()
        _check_submittable(product)  # again: another submission may have won the race
        listing = Listing(
            product_id=product.id, status="in_review", submitted_by=principal.actor,
            submitted_at=now, table_versions=versions, compliance=compliance_report,
            compliance_sha256=sha256(compliance_report), risk_grade=grade,
            quality=quality_report, quality_sha256=sha256(quality_report), reasons=[])
        s.add(listing)
        s.flush()
        _set_status(s, product, "in_review")
        ledger.append(s, actor=principal.actor, action="listing.submitted",
                      parties=[principal.org_id],
                      subject=_subject(product),
                      payload={"listing_id": listing.id, "product": slug,
                               "table_versions": versions, "risk_grade": grade,
                               "personal_information": kinds,
                               "compliance_sha256": listing.compliance_sha256,
                               "quality_sha256": listing.quality_sha256,
                               "quality_score": quality_report["overall"]})
        s.expunge(listing)
    return listing


def _listing_for_decision(session: Session, principal: Principal, listing_id: int
                          ) -> tuple[Listing, Product]:
    principal.require_operator()
    listing = session.scalars(select(Listing).where(Listing.id == listing_id)
                              .with_for_update()).one_or_none()
    if listing is None:
        raise NotFound(f"listing {listing_id} does not exist", code="listing_not_found")
    if listing.status != "in_review":
        raise Conflict(f"listing {listing_id} is {listing.status}, not in review",
                       code="listing_not_in_review")
    product = session.get(Product, listing.product_id)
    assert product is not None
    return listing, product


def _check_split(session: Session, split: schemas.Split) -> None:
    total = split.provider_bp + split.platform_bp + split.broker_bp
    if total != BASIS_POINTS:
        raise InvalidInput(f"the split must add up to {BASIS_POINTS} basis points, got {total}",
                           code="invalid_split")
    if (split.broker_org_id is None) != (split.broker_bp == 0):
        raise InvalidInput("a broker share needs a broker organisation and the other way round",
                           code="invalid_split")
    if split.broker_org_id is not None:
        broker = session.get(Organization, split.broker_org_id)
        if broker is None or "broker" not in broker.roles:
            raise InvalidInput(f"organisation {split.broker_org_id} is not a broker",
                               code="not_a_broker")


def approve(session: Session, principal: Principal, listing_id: int,
            data: schemas.ApproveIn) -> Listing:
    listing, product = _listing_for_decision(session, principal, listing_id)
    _check_split(session, data.split)
    listing.status = "listed"
    listing.decided_by, listing.decided_at, listing.note = principal.actor, utcnow(), data.note
    listing.provider_bp, listing.platform_bp = data.split.provider_bp, data.split.platform_bp
    listing.broker_org_id, listing.broker_bp = data.split.broker_org_id, data.split.broker_bp
    _set_status(session, product, "listed")
    ledger.append(session, actor=principal.actor, action="listing.approved",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=_subject(product),
                  payload={"listing_id": listing.id, "product": product.slug,
                           "split": data.split.model_dump(), "note": data.note})
    return listing


def reject(session: Session, principal: Principal, listing_id: int,
           data: schemas.RejectIn) -> Listing:
    listing, product = _listing_for_decision(session, principal, listing_id)
    reasons = [r.strip() for r in data.reasons if r.strip()]
    if not reasons:
        raise InvalidInput("a rejection needs at least one reason", code="reasons_required")
    listing.status = "rejected"
    listing.decided_by, listing.decided_at = principal.actor, utcnow()
    listing.reasons, listing.note = reasons, data.note
    _set_status(session, product, "rejected")
    ledger.append(session, actor=principal.actor, action="listing.rejected",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=_subject(product),
                  payload={"listing_id": listing.id, "product": product.slug,
                           "reasons": reasons, "note": data.note})
    return listing


def _current(session: Session, product: Product) -> Listing | None:
    return session.scalars(select(Listing).where(Listing.product_id == product.id)
                           .order_by(Listing.id.desc()).limit(1)).first()


def delist(session: Session, principal: Principal, slug: str, reason: str) -> Product:
    """The operator or the provider takes a listed product out of the catalog."""
    product = find_product(session, slug)
    if not can_see(principal, product):
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    if not principal.is_operator and product.provider_org_id != principal.org_id:
        raise Forbidden("only the provider or the operator may delist a product",
                        code="not_product_owner")
    if not reason.strip():
        raise InvalidInput("delisting needs a reason", code="reason_required")
    product = session.scalars(select(Product).where(Product.id == product.id)
                              .with_for_update()).one()
    if product.status != "listed":
        raise Conflict(f"product {slug!r} is {product.status}, not listed", code="not_listed")
    listing = _current(session, product)
    if listing is not None and listing.status == "listed":
        listing.status = "delisted"
        listing.delisted_by, listing.delisted_at = principal.actor, utcnow()
        listing.delist_reason = reason.strip()
    _set_status(session, product, "delisted")
    ledger.append(session, actor=principal.actor, action="listing.delisted",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=_subject(product),
                  payload={"listing_id": listing.id if listing else None, "product": slug,
                           "reason": reason.strip(),
                           "by": "operator" if principal.is_operator else "provider"})
    return product


def decided_split(session: Session, product_id: int) -> schemas.Split | None:
    """The revenue split of the product's latest approved listing (a delisting does not end
    running contracts), or None if it was never listed with one."""
    listing = session.scalars(
        select(Listing).where(Listing.product_id == product_id,
                              Listing.decided_at.is_not(None),
                              Listing.status.in_(("listed", "delisted")))
        .order_by(Listing.id.desc()).limit(1)).first()
    if listing is None or listing.provider_bp is None or listing.platform_bp is None:
        return None
    return schemas.Split(provider_bp=listing.provider_bp, platform_bp=listing.platform_bp,
                         broker_org_id=listing.broker_org_id, broker_bp=listing.broker_bp or 0)


def current_split(session: Session, product_id: int) -> schemas.Split:
    """The revenue split billing applies to the product: its listing's, else the default."""
    return decided_split(session, product_id) or DEFAULT_SPLIT.model_copy()


def product_listing(session: Session, principal: Principal, slug: str) -> schemas.ListingOut:
    """The product's current review: all of it for the provider and operators, the quality
    report alone for others once the product is listed."""
    product = find_product(session, slug)
    if not can_see(principal, product):
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    listing = _current(session, product)
    if listing is None:
        raise NotFound(f"product {slug!r} has never been submitted for listing",
                       code="listing_not_found")
    full = principal.is_operator or product.provider_org_id == principal.org_id
    return to_out(session, listing, product, full=full)


def queue(session: Session, principal: Principal, status: str, limit: int | None,
          page_token: str | None) -> Page[schemas.ListingOut]:
    principal.require_operator()
    if status not in LISTING_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(LISTING_STATUSES)}",
                           code="invalid_status")
    limit, offset = check_limit(limit), decode_token(page_token)
    rows = session.scalars(select(Listing).where(Listing.status == status)
                           .order_by(Listing.id).offset(offset).limit(limit + 1)).all()
    total = session.scalar(select(func.count(Listing.id)).where(Listing.status == status))
    items = []
    for listing in rows[:limit]:
        product = session.get(Product, listing.product_id)
        assert product is not None
        out = to_out(session, listing, product, full=True)
        items.append(out.model_copy(update={"compliance": None, "quality": None}))
    return Page[schemas.ListingOut](items=items, total=total,
                                    next_page_token=next_token(offset, limit, len(rows)))


def to_out(session: Session, listing: Listing, product: Product, *,
           full: bool) -> schemas.ListingOut:
    if not full:
        return schemas.ListingOut(
            id=listing.id, product=product.slug, product_status=product.status,
            status=listing.status, quality=listing.quality,
            quality_sha256=listing.quality_sha256,
            quality_score=listing.quality.get("overall"), decided_at=listing.decided_at)
    split = None
    if listing.provider_bp is not None and listing.platform_bp is not None:
        split = schemas.Split(provider_bp=listing.provider_bp, platform_bp=listing.platform_bp,
                              broker_org_id=listing.broker_org_id,
                              broker_bp=listing.broker_bp or 0)
    return schemas.ListingOut(
        id=listing.id, product=product.slug, product_status=product.status,
        status=listing.status, submitted_by=listing.submitted_by,
        submitted_at=listing.submitted_at, table_versions=listing.table_versions,
        risk_grade=listing.risk_grade,
        personal_information=listing.compliance.get("personal_information"),
        compliance=listing.compliance, compliance_sha256=listing.compliance_sha256,
        quality=listing.quality, quality_sha256=listing.quality_sha256,
        quality_score=listing.quality.get("overall"), decided_by=listing.decided_by,
        decided_at=listing.decided_at, reasons=list(listing.reasons or []), note=listing.note,
        split=split, delisted_by=listing.delisted_by, delisted_at=listing.delisted_at,
        delist_reason=listing.delist_reason)


def get(session: Session, listing_id: int) -> tuple[Listing, Product]:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(f"listing {listing_id} does not exist", code="listing_not_found")
    product = session.get(Product, listing.product_id)
    assert product is not None
    return listing, product

