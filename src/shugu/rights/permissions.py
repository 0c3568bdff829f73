"""Who may see and do what in the rights domain: the one place it is decided.

- Registrations: the applicant and the operator see them in every state; once in public
  notice (and after: issued, refused) every authenticated organisation sees them, so that it
  can object. Anyone else gets 404. Only the applicant edits, uploads, submits, withdraws;
  only the operator reviews, resolves objections, issues and refuses.
- Proof documents' contents: the applicant and the operator (others see only their hashes).
- Objections: the applicant and the operator see all of a registration's; an objector its own.
- Certificates are public facts: any authenticated caller reads them; anyone, without logging
  in, reads their status.
- Pledges: the pledgor (holder), the pledgee and the operator; anyone else gets 404.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.errors import Forbidden, NotFound
from shugu.identity.principal import Principal
from shugu.rights.models import Certificate, Objection, Pledge, Registration

PUBLIC_STATUSES = ("public_notice", "issued", "refused")


def _registration(session: Session, registration_id: int) -> Registration:
    reg = session.get(Registration, registration_id)
    if reg is None:
        raise NotFound(f"registration {registration_id} does not exist",
                       code="registration_not_found")
    return reg


def is_party(principal: Principal, reg: Registration) -> bool:
    return principal.is_operator or principal.org_id == reg.applicant_org_id


def visible_registration(session: Session, principal: Principal,
                         registration_id: int) -> Registration:
    reg = _registration(session, registration_id)
    if is_party(principal, reg) or reg.status in PUBLIC_STATUSES:
        return reg
    raise NotFound(f"registration {registration_id} does not exist",
                   code="registration_not_found")


def private_registration(session: Session, principal: Principal,
                         registration_id: int) -> Registration:
    """The registration, for its applicant and the operator only."""
    reg = _registration(session, registration_id)
    if is_party(principal, reg):
        return reg
    raise NotFound(f"registration {registration_id} does not exist",
                   code="registration_not_found")


def applicant_registration(session: Session, principal: Principal,
                           registration_id: int) -> Registration:
    reg = visible_registration(session, principal, registration_id)
    if principal.org_id != reg.applicant_org_id:
        if not principal.is_operator and reg.status not in PUBLIC_STATUSES:
            raise NotFound(f"registration {registration_id} does not exist",
                           code="registration_not_found")
        raise Forbidden("only the applicant may do this", code="not_applicant")
    return reg


def operator_registration(session: Session, principal: Principal,
                          registration_id: int) -> Registration:
    reg = visible_registration(session, principal, registration_id)
    principal.require_operator()
    return reg


def visible_objections(session: Session, principal: Principal,
                       reg: Registration) -> list[Objection]:
    query = select(Objection).where(Objection.registration_id == reg.id).order_by(Objection.id)
    if not is_party(principal, reg):
        query = query.where(Objection.org_id == principal.org_id)
    return list(session.scalars(query))


def find_certificate(session: Session, number: str) -> Certificate:
    cert = session.scalar(select(Certificate).where(Certificate.number == number))
    if cert is None:
        raise NotFound(f"certificate {number!r} does not exist", code="certificate_not_found")
    return cert


def require_holder(principal: Principal, cert: Certificate, *, operator_too: bool) -> None:
    if principal.org_id == cert.holder_org_id or (operator_too and principal.is_operator):
        return
    raise Forbidden(f"only the holder of certificate {cert.number} may do this",
                    code="not_certificate_holder")


def visible_pledge(session: Session, principal: Principal, pledge_id: int) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    if pledge is not None and (principal.is_operator or principal.org_id in (
            pledge.pledgor_org_id, pledge.pledgee_org_id)):
        return pledge
    raise NotFound(f"pledge {pledge_id} does not exist", code="pledge_not_found")


def require_pledgee(principal: Principal, pledge: Pledge) -> None:
    if principal.is_operator or principal.org_id == pledge.pledgee_org_id:
        return
    raise Forbidden("only the pledgee or the operator may do this", code="not_pledgee")
