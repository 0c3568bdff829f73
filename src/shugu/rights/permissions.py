"""Who may see and do what in the rights domain: the one place it is decided.

- Registrations: drafts are the applicant's alone (a draft withdrawn before it was ever
  submitted stays so); once submitted the operator sees them too; once in public notice
  (and after: issued, refused) every authenticated organisation sees them, so that it can
  object. Anyone else gets 404. Only the applicant edits, uploads, submits, withdraws;
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


def _registration(session: Session, registration_id: int, lock: bool) -> Registration:
    # State changes lock the row: on PostgreSQL two concurrent transitions of one
    # registration would otherwise both pass the state check.
    reg = session.get(Registration, registration_id, with_for_update=lock or None)
    if reg is None:
        raise NotFound(f"registration {registration_id} does not exist",
                       code="registration_not_found")
    return reg


def _private(reg: Registration) -> bool:
    return reg.status == "draft" or (reg.status == "withdrawn" and reg.submissions == 0)


def is_party(principal: Principal, reg: Registration) -> bool:
    if principal.org_id == reg.applicant_org_id:
        return True
    return principal.is_operator and not _private(reg)


def visible_registration(session: Session, principal: Principal, registration_id: int, *,
                         lock: bool = False) -> Registration:
    reg = _registration(session, registration_id, lock)
    if is_party(principal, reg) or reg.status in PUBLIC_STATUSES:
        return reg
    raise NotFound(f"registration {registration_id} does not exist",
                   code="registration_not_found")


def private_registration(session: Session, principal: Principal,
                         registration_id: int) -> Registration:
    """The registration, for its applicant and the operator only."""
    reg = _registration(session, registration_id, False)
    if is_party(principal, reg):
        return reg
    raise NotFound(f"registration {registration_id} does not exist",
                   code="registration_not_found")


def applicant_registration(session: Session, principal: Principal,
                           registration_id: int) -> Registration:
    reg = visible_registration(session, principal, registration_id, lock=True)
    if principal.org_id != reg.applicant_org_id:
        raise Forbidden("only the applicant may do this", code="not_applicant")
    return reg


def operator_registration(session: Session, principal: Principal,
                          registration_id: int) -> Registration:
    reg = visible_registration(session, principal, registration_id, lock=True)
    principal.require_operator()
    return reg


def visible_objections(session: Session, principal: Principal,
                       reg: Registration) -> list[Objection]:
    query = select(Objection).where(Objection.registration_id == reg.id).order_by(Objection.id)
    if not is_party(principal, reg):
        query = query.where(Objection.org_id == principal.org_id)
    return list(session.scalars(query))


def find_certificate(session: Session, number: str, *, lock: bool = False) -> Certificate:
    query = select(Certificate).where(Certificate.number == number)
    # Locked by whatever may end or encumber it (pledge, issue), so the two never interleave.
    cert = session.scalar(query.with_for_update() if lock else query)
    if cert is None:
        raise NotFound(f"certificate {number!r} does not exist", code="certificate_not_found")
    return cert


def require_holder(principal: Principal, cert: Certificate, *, operator_too: bool) -> None:
    if principal.org_id == cert.holder_org_id or (operator_too and principal.is_operator):
        return
    raise Forbidden(f"only the holder of certificate {cert.number} may do this",
                    code="not_certificate_holder")


def visible_pledge(session: Session, principal: Principal, pledge_id: int, *,
                   lock: bool = False) -> Pledge:
    pledge = session.get(Pledge, pledge_id, with_for_update=lock or None)
    if pledge is not None and (principal.is_operator or principal.org_id in (
            pledge.pledgor_org_id, pledge.pledgee_org_id)):
        return pledge
    raise NotFound(f"pledge {pledge_id} does not exist", code="pledge_not_found")


def require_pledgee(principal: Principal, pledge: Pledge) -> None:
    if principal.is_operator or principal.org_id == pledge.pledgee_org_id:
        return
    raise Forbidden("only the pledgee or the operator may do this", code="not_pledgee")
