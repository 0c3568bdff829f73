"""Reading the ledger, for the API and the auditor's portal: the one place that decides who
sees what of an event.

Everyone, without logging in, sees every event's public form: seq, time, action, public
subject, commitment and leaf hash — enough to check proofs and the whole tree. The opening
(actor, full subject, payload, salt) is shown to the event's parties (the organisations
recorded when it was appended), the operator and auditors, and to nobody else. Filtering
by subject matches the public subject for everyone and the full subject only among events
the caller may open, so a filter cannot be used to probe for a hidden name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from shugu.errors import Forbidden, NotFound, Unauthenticated
from shugu.identity.principal import Principal
from shugu.ledger import proofs
from shugu.ledger.events import format_ts
from shugu.ledger.models import LedgerEvent, LedgerParty
from shugu.pagination import check_limit, decode_token, encode_token


@dataclass(frozen=True)
class Viewer:
    """Who is reading: an organisation (None: anonymous) and whether it oversees all."""

    org_id: int | None = None
    overseer: bool = False

    @classmethod
    def of(cls, principal: Principal | None) -> Viewer:
        if principal is None:
            return cls()
        return cls(org_id=principal.org_id, overseer=principal.is_overseer)


ANONYMOUS = Viewer()


@dataclass
class Opening:
    actor: str
    subject: str  # the full subject
    payload_json: str  # the stored canonical text the commitment is taken over
    salt: str | None  # None for version-1 events
    payload_sha256: str | None  # version-1 events: the unsalted hash their leaf holds

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"actor": self.actor, "subject": self.subject,
                               "payload_json": self.payload_json}
        if self.salt is not None:
            out["salt"] = self.salt
        return out


@dataclass
class Event:
    seq: int
    ts: str  # as in the leaf: UTC YYYY-MM-DDTHH:MM:SS.ffffffZ
    action: str
    subject: str  # the public subject
    commitment: str | None  # None for version-1 events
    leaf_hash: str
    opening: Opening | None  # None when the viewer may not see it

    @property
    def version(self) -> int:
        return 1 if self.commitment is None else 2

    def public(self) -> dict[str, Any]:
        """The public form, as in a public export and an openings bundle."""
        out: dict[str, Any] = {"seq": self.seq, "ts": self.ts, "action": self.action,
                               "subject": self.subject, "leaf_hash": self.leaf_hash}
        if self.commitment is not None:
            out["commitment"] = self.commitment
        return out


def _party(viewer: Viewer) -> Any:
    return exists().where(LedgerParty.seq == LedgerEvent.seq,
                          LedgerParty.org_id == viewer.org_id)


def _event(e: LedgerEvent, disclosed: bool) -> Event:
    opening = Opening(actor=e.actor, subject=e.subject, payload_json=e.payload, salt=e.salt,
                      payload_sha256=e.payload_hash) if disclosed else None
    return Event(seq=e.seq, ts=format_ts(e.ts), action=e.action, subject=e.public_subject,
                 commitment=e.commitment, leaf_hash=bytes(e.leaf_hash).hex(), opening=opening)


def _with_disclosure(viewer: Viewer) -> Select[Any]:
    if viewer.overseer:
        return select(LedgerEvent)
    if viewer.org_id is None:
        return select(LedgerEvent)  # nothing disclosed; see _disclosed
    return select(LedgerEvent, _party(viewer).label("party"))


def _disclosed(viewer: Viewer, row: Any) -> tuple[LedgerEvent, bool]:
    if viewer.overseer:
        return row[0], True
    if viewer.org_id is None:
        return row[0], False
    return row[0], bool(row[1])


def page(session: Session, viewer: Viewer, *, action: str | None, subject: str | None,
         limit: int | None, page_token: str | None, mine: bool = False,
         ) -> tuple[list[Event], str | None, int | None]:
    """Events in sequence order (keyset pagination): items, next token, total.

    `mine`: only the events the viewer may open (all of them for overseers)."""
    limit, start = check_limit(limit), decode_token(page_token)
    if mine and viewer.org_id is None and not viewer.overseer:
        raise Unauthenticated("log in to list the events you are a party to",
                              code="token_missing")
    query = _with_disclosure(viewer).where(LedgerEvent.seq >= start)
    if action:
        query = query.where(LedgerEvent.action == action)
    if subject:
        if viewer.overseer:
            query = query.where(or_(LedgerEvent.public_subject == subject,
                                    LedgerEvent.subject == subject))
        elif viewer.org_id is not None:
            query = query.where(or_(LedgerEvent.public_subject == subject,
                                    (LedgerEvent.subject == subject) & _party(viewer)))
        else:
            query = query.where(LedgerEvent.public_subject == subject)
    if mine and not viewer.overseer:
        query = query.where(_party(viewer))
    rows = session.execute(query.order_by(LedgerEvent.seq).limit(limit + 1)).all()
    filtered = bool(action or subject or (mine and not viewer.overseer))
    total = None if filtered else proofs.current_size(session)
    more = len(rows) > limit
    items = [_event(*_disclosed(viewer, r)) for r in rows[:limit]]
    return items, encode_token(rows[limit][0].seq) if more else None, total


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(LedgerEvent.action).distinct()
                                .order_by(LedgerEvent.action)))


def event(session: Session, viewer: Viewer, seq: int) -> Event:
    row = session.execute(_with_disclosure(viewer).where(LedgerEvent.seq == seq)).first()
    if row is None:
        raise NotFound(f"no ledger event {seq}", code="event_not_found", seq=seq)
    return _event(*_disclosed(viewer, row))


def opened(session: Session, viewer: Viewer, seq: int) -> Event:
    """An event with its opening; 401 anonymous, 403 for an organisation not party to it."""
    found = event(session, viewer, seq)
    if found.opening is None:
        if viewer.org_id is None:
            raise Unauthenticated("log in as a party to the event to read its opening",
                                  code="token_missing")
        raise Forbidden("only the parties to an event, the operator and auditors may read "
                        "its opening", code="not_a_party", seq=seq)
    return found
