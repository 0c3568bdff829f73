"""The public notice (公示): registrations whose notice period is running, with the fields
a notice publishes, readable by anyone. Filing an objection still needs an account."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.catalog.permissions import LISTED
from shugu.db import utcnow
from shugu.identity.models import Organization
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.rights import schemas
from shugu.rights.models import RIGHTS, Certificate, Fingerprint, Registration


def _open_notices() -> ColumnElement[bool]:
    return and_(Registration.status == "public_notice", Registration.notice_end > utcnow())


def notice_out(session: Session, reg: Registration) -> schemas.PublicNotice:
    applicant = session.get(Organization, reg.applicant_org_id)
    product = session.get(Product, reg.product_id)
    fingerprint = session.get(Fingerprint, reg.fingerprint_id) if reg.fingerprint_id else None
    cert = session.get(Certificate, reg.certificate_id) if reg.certificate_id else None
    assert applicant is not None and product is not None
    assert reg.notice_start is not None and reg.notice_end is not None
    listed = product.status == LISTED
    return schemas.PublicNotice(
        id=reg.id, kind=reg.kind, data_name=reg.data_name, applicant=applicant.name,
        applicant_uscc=applicant.uscc,
        # An unlisted product stays invisible: the notice names the data, not the product.
        product=product.slug if listed else None,
        product_title=product.title_zh if listed else None,
        rights=[schemas.RightOut(code=r, zh=RIGHTS[r][0], en=RIGHTS[r][1]) for r in reg.rights],
        source_kind=reg.source_kind, source_description=reg.source_description,
        algorithm_rules=reg.algorithm_rules, scenario=reg.scenario,
        update_period=reg.update_period,
        fingerprint_root=fingerprint.root if fingerprint else None,
        certificate=cert.number if cert else None,
        notice_start=reg.notice_start, objection_deadline=reg.notice_end)


def open_notices(session: Session, limit: int | None,
                 page_token: str | None) -> Page[schemas.PublicNotice]:
    """Registrations in public notice now, the ones ending soonest first."""
    limit, offset = check_limit(limit), decode_token(page_token)
    rows = session.scalars(select(Registration).where(_open_notices())
                           .order_by(Registration.notice_end, Registration.id)
                           .offset(offset).limit(limit + 1)).all()
    total = session.scalar(select(func.count(Registration.id))
                           .where(_open_notices()))
    return Page[schemas.PublicNotice](
        items=[notice_out(session, r) for r in rows[:limit]],
        next_page_token=next_token(offset, limit, len(rows)), total=total)


def open_notice(session: Session, registration_id: int) -> schemas.PublicNotice | None:
    reg = session.scalar(select(Registration).where(
        Registration.id == registration_id, _open_notices()))
    return notice_out(session, reg) if reg is not None else None
