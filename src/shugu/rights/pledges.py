"""质押: registering, releasing and enforcing pledges on certificates."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.errors import Conflict, InvalidInput, NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.rights import certificates, schemas
from shugu.rights import permissions as perm
from shugu.rights.models import Certificate, Pledge


def register(session: Session, principal: Principal, number: str,
             data: schemas.PledgeIn) -> Pledge:
    cert = perm.find_certificate(session, number, lock=True)
    perm.require_holder(principal, cert, operator_too=True)
    status = certificates.current_status(session, cert)
    if status not in ("valid", "pledged"):
        raise Conflict(f"certificate {number} is {status}", code="certificate_not_in_effect",
                       status=status)
    pledgee = session.get(Organization, data.pledgee_org_id)
    if pledgee is None:
        raise NotFound(f"organisation {data.pledgee_org_id} does not exist",
                       code="organization_not_found")
    if pledgee.id == cert.holder_org_id:
        raise InvalidInput("the holder cannot pledge a certificate to itself",
                           code="invalid_pledgee")
    start = data.term_start or utcnow()
    if data.term_end <= start:
        raise InvalidInput("term_end must be after term_start", code="invalid_term")
    pledge = Pledge(certificate_id=cert.id, pledgor_org_id=cert.holder_org_id,
                    pledgee_org_id=pledgee.id, amount_fen=data.amount_fen, term_start=start,
                    term_end=data.term_end, status="active", note=data.note,
                    created_at=utcnow())
    session.add(pledge)
    session.flush()
    ledger.append(session, actor=principal.actor, action="pledge.registered",
                  parties=[principal.org_id],
                  subject=f"certificate:{cert.number}/pledge:{pledge.id}",
                  payload={"id": pledge.id, "certificate": cert.number,
                           "pledgor_org_id": pledge.pledgor_org_id,
                           "pledgee_org_id": pledge.pledgee_org_id,
                           "amount_fen": pledge.amount_fen, "term_start": pledge.term_start,
                           "term_end": pledge.term_end})
    return pledge


def _end(session: Session, principal: Principal, pledge_id: int, status: str,
         note: str | None) -> Pledge:
    pledge = perm.visible_pledge(session, principal, pledge_id, lock=True)
    perm.require_pledgee(principal, pledge)
    if pledge.status != "active":
        raise Conflict(f"pledge {pledge.id} is already {pledge.status}",
                       code="pledge_not_active", status=pledge.status)
    pledge.status = status
    pledge.ended_at = utcnow()
    pledge.end_note = note
    cert = session.get(Certificate, pledge.certificate_id)
    assert cert is not None
    ledger.append(session, actor=principal.actor, action=f"pledge.{status}",
                  parties=[principal.org_id, pledge.pledgor_org_id, pledge.pledgee_org_id],
                  subject=f"certificate:{cert.number}/pledge:{pledge.id}",
                  payload={"id": pledge.id, "certificate": cert.number, "note": note})
    return pledge


def release(session: Session, principal: Principal, pledge_id: int, note: str | None) -> Pledge:
    """The debt is settled: the encumbrance is lifted."""
    return _end(session, principal, pledge_id, "released", note)


def enforce(session: Session, principal: Principal, pledge_id: int, note: str | None) -> Pledge:
    """The pledgee realises the pledge; the certificate then moves to it by a transfer
    registration filed by the pledgee (RegistrationIn.pledge_id)."""
    return _end(session, principal, pledge_id, "enforced", note)


def list_for(session: Session, principal: Principal, certificate: str | None) -> list[Pledge]:
    query = select(Pledge).order_by(Pledge.id)
    if not principal.is_operator:
        query = query.where(or_(Pledge.pledgor_org_id == principal.org_id,
                                Pledge.pledgee_org_id == principal.org_id))
    if certificate is not None:
        query = query.where(Pledge.certificate_id == perm.find_certificate(
            session, certificate).id)
    return list(session.scalars(query))


def to_out(session: Session, pledge: Pledge) -> schemas.PledgeOut:
    cert = session.get(Certificate, pledge.certificate_id)
    assert cert is not None
    return schemas.PledgeOut(
        id=pledge.id, certificate=cert.number, pledgor_org_id=pledge.pledgor_org_id,
        pledgee_org_id=pledge.pledgee_org_id, amount_fen=pledge.amount_fen,
        term_start=pledge.term_start, term_end=pledge.term_end, status=pledge.status,
        note=pledge.note, created_at=pledge.created_at, ended_at=pledge.ended_at,
        end_note=pledge.end_note)
