"""Read-only views of the registration work for the operator's portal: how many are at
each state, and which registrations in public notice still have open objections."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.identity.principal import Principal
from shugu.rights.models import Objection, Registration


def counts_by_status(session: Session, principal: Principal) -> dict[str, int]:
    """Submitted registrations per status (drafts never submitted are the applicant's)."""
    principal.require_operator()
    rows = session.execute(select(Registration.status, func.count(Registration.id))
                           .where(Registration.submissions > 0)
                           .group_by(Registration.status))
    return {status: int(n) for status, n in rows}


def with_open_objections(session: Session, principal: Principal) -> list[tuple[Registration, int]]:
    """Registrations in public notice with unresolved objections, and how many, oldest first."""
    principal.require_operator()
    rows = session.execute(
        select(Registration, func.count(Objection.id))
        .join(Objection, Objection.registration_id == Registration.id)
        .where(Registration.status == "public_notice", Objection.status == "open")
        .group_by(Registration.id).order_by(Registration.id))
    return [(reg, int(n)) for reg, n in rows]
