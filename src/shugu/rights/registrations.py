"""The registration state machine: application, review, public notice, objections, decision.

    draft ──submit──▶ formal_review ──approve──▶ substantive_review ──approve──▶ public_notice
      ▲                  │    │                      │    │                       │
      └── submit ── changes_requested ◀──request_changes┘    │           issue / refuse
                         │    └──reject──▶ rejected ◀─reject─┘                   ▼
                         └──withdraw──▶ withdrawn                       issued | refused

Every transition is one service function that checks the state, runs in the caller's
transaction and appends a ledger event; an illegal transition is 409 `invalid_transition`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shugu.catalog.models import Product, Revision
from shugu.catalog.permissions import owned_product
from shugu.db import utcnow
from shugu.errors import Conflict, Forbidden, InvalidInput, NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.platform_key import PlatformKey
from shugu.rights import certificates, fingerprints, schemas
from shugu.rights import permissions as perm
from shugu.rights.models import (
    RIGHTS,
    Certificate,
    Fingerprint,
    Licence,
    Objection,
    Pledge,
    ProofDocument,
    Registration,
)

EDITABLE = ("draft", "changes_requested")
OPEN = ("draft", "formal_review", "substantive_review", "changes_requested", "public_notice")
# Registrations that end or replace a certificate: one at a time per certificate.
EXCLUSIVE_KINDS = ("transfer", "change", "cancellation")
# Kinds that need proof documents (the source's proof; the transfer contract).
NEEDS_DOCUMENTS = ("initial", "transfer")


def expect_state(reg: Registration, allowed: tuple[str, ...], action: str) -> None:
    if reg.status not in allowed:
        raise Conflict(f"registration {reg.id} is {reg.status}; it cannot be {action} now",
                       code="invalid_transition", status=reg.status, action=action)


def _event(session: Session, principal: Principal, action: str, reg: Registration,
           **extra: Any) -> None:
    ledger.append(session, actor=principal.actor, action=f"registration.{action}",
                  parties=[principal.org_id, reg.applicant_org_id, reg.counterparty_org_id],
                  subject=f"registration:{reg.id}",
                  payload={"id": reg.id, "kind": reg.kind, "status": reg.status, **extra})


def _org(session: Session, org_id: int) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} does not exist", code="organization_not_found")
    return org


def _pending_on(session: Session, cert: Certificate, exclude: int | None = None) -> int | None:
    query = select(Registration.id).where(
        Registration.certificate_id == cert.id, Registration.status.in_(OPEN),
        Registration.kind.in_(EXCLUSIVE_KINDS))
    if exclude is not None:
        query = query.where(Registration.id != exclude)
    return session.scalar(query.limit(1))


def _refuse_if_pledged(session: Session, cert: Certificate, kind: str) -> None:
    if kind in EXCLUSIVE_KINDS and certificates.active_pledges(session, cert):
        raise Conflict(f"certificate {cert.number} is pledged; release the pledge before a "
                       f"{kind}", code="certificate_pledged", certificate=cert.number)


def _require_in_effect(session: Session, cert: Certificate) -> None:
    status = certificates.current_status(session, cert)
    if status not in ("valid", "pledged"):
        raise Conflict(f"certificate {cert.number} is {status}",
                       code="certificate_not_in_effect", status=status)


def _fingerprint_for(session: Session, product: Product, number: int | None) -> Fingerprint:
    if number is None:
        raise InvalidInput("revision is required", code="missing_field", field="revision")
    revision = session.scalar(select(Revision).where(
        Revision.product_id == product.id, Revision.number == number))
    if revision is not None and revision.status == "revoked":
        raise Conflict(f"revision {number} is revoked", code="revision_revoked")
    return fingerprints.for_revision(session, product, number)


def _on_certificate(session: Session, principal: Principal, data: schemas.RegistrationIn,
                    reg: Registration) -> None:
    """Resolve and check the certificate a licence/transfer/change/cancellation acts on."""
    if not data.certificate:
        raise InvalidInput(f"a {data.kind} registration names a certificate",
                           code="missing_field", field="certificate")
    cert = perm.find_certificate(session, data.certificate)
    enforcing = None
    if data.pledge_id is not None:
        if data.kind != "transfer":
            raise InvalidInput("pledge_id is only for a transfer", code="invalid_input")
        enforcing = session.get(Pledge, data.pledge_id)
        if enforcing is None or enforcing.certificate_id != cert.id or \
                enforcing.pledgee_org_id != principal.org_id:
            raise NotFound(f"pledge {data.pledge_id} does not exist", code="pledge_not_found")
        if enforcing.status != "enforced":
            raise Conflict("only an enforced pledge entitles the pledgee to a transfer",
                           code="pledge_not_enforced")
        if data.counterparty_org_id not in (None, principal.org_id):
            raise InvalidInput("a transfer on an enforced pledge goes to the pledgee",
                               code="invalid_counterparty")
        data.counterparty_org_id = principal.org_id
    else:
        perm.require_holder(principal, cert, operator_too=False)
    _require_in_effect(session, cert)
    _refuse_if_pledged(session, cert, data.kind)
    if data.kind in EXCLUSIVE_KINDS and (other := _pending_on(session, cert)) is not None:
        raise Conflict(f"registration {other} on certificate {cert.number} is still open",
                       code="registration_pending", registration_id=other)
    product = session.get(Product, cert.product_id)
    assert product is not None
    reg.certificate_id = cert.id
    reg.product_id = cert.product_id
    reg.data_name = data.data_name or str(cert.content.get("data_name") or product.title_zh)
    if data.kind in ("licence", "transfer"):
        if data.counterparty_org_id is None:
            raise InvalidInput(f"a {data.kind} names the counterparty organisation",
                               code="missing_field", field="counterparty_org_id")
        _org(session, data.counterparty_org_id)
        if data.counterparty_org_id == cert.holder_org_id:
            raise InvalidInput("the counterparty is the holder itself",
                               code="invalid_counterparty")
        reg.counterparty_org_id = data.counterparty_org_id
    if data.kind == "transfer":
        reg.rights = list(cert.rights)
        reg.pledge_id = enforcing.id if enforcing is not None else None
    elif data.kind == "licence":
        wanted = list(dict.fromkeys(data.rights)) or list(cert.rights)
        if not set(wanted) <= set(cert.rights):
            raise InvalidInput("a licence can only grant rights the certificate holds",
                               code="rights_not_held", held=list(cert.rights))
        reg.rights = wanted
    elif data.kind == "change":
        reg.fingerprint_id = _fingerprint_for(session, product, data.revision).id
        reg.rights = list(dict.fromkeys(data.rights)) or list(cert.rights)
    else:
        reg.rights = list(cert.rights)
    for name in ("source_kind", "source_description", "algorithm_rules", "scenario",
                 "update_period"):
        value = getattr(data, name)
        setattr(reg, name, value if value is not None else
                _from_certificate(session, cert, name))


def _from_certificate(session: Session, cert: Certificate, field: str) -> Any:
    """Carry the original application's description over to later registrations."""
    origin = session.get(Registration, cert.registration_id)
    return getattr(origin, field) if origin is not None else None


def create(session: Session, principal: Principal, data: schemas.RegistrationIn) -> Registration:
    now = utcnow()
    reg = Registration(kind=data.kind, applicant_org_id=principal.org_id, status="draft",
                       rights=[], submissions=0, created_at=now, updated_at=now,
                       licence_scope=data.licence_scope, licence_until=data.licence_until,
                       reason=data.reason)
    if data.kind == "initial":
        if not data.product:
            raise InvalidInput("an initial registration names a product", code="missing_field",
                               field="product")
        product = owned_product(session, principal, data.product)
        reg.product_id = product.id
        reg.fingerprint_id = _fingerprint_for(session, product, data.revision).id
        reg.data_name = data.data_name or product.title_zh
        reg.rights = list(dict.fromkeys(data.rights))
        for name in ("source_kind", "source_description", "algorithm_rules", "scenario",
                     "update_period"):
            setattr(reg, name, getattr(data, name))
    else:
        _on_certificate(session, principal, data, reg)
    session.add(reg)
    session.flush()
    _event(session, principal, "created", reg, product_id=reg.product_id,
           certificate_id=reg.certificate_id, rights=list(reg.rights))
    return reg


def update(session: Session, principal: Principal, registration_id: int,
           patch: schemas.RegistrationPatch) -> Registration:
    reg = perm.applicant_registration(session, principal, registration_id)
    expect_state(reg, EDITABLE, "edited")
    fields = patch.model_dump(exclude_unset=True)
    if "revision" in fields:
        if reg.kind not in ("initial", "change"):
            raise InvalidInput(f"a {reg.kind} registration has no revision", code="invalid_input")
        product = session.get(Product, reg.product_id)
        assert product is not None
        reg.fingerprint_id = _fingerprint_for(session, product, fields.pop("revision")).id
    if "rights" in fields:
        rights = list(dict.fromkeys(fields.pop("rights") or []))
        if reg.kind in ("transfer", "cancellation"):
            raise InvalidInput(f"a {reg.kind} covers all the certificate's rights",
                               code="invalid_input")
        if reg.kind == "licence":
            cert = session.get(Certificate, reg.certificate_id)
            assert cert is not None
            if not set(rights) <= set(cert.rights):
                raise InvalidInput("a licence can only grant rights the certificate holds",
                                   code="rights_not_held", held=list(cert.rights))
        reg.rights = rights
    for name, value in fields.items():
        setattr(reg, name, value)
    reg.updated_at = utcnow()
    _event(session, principal, "updated", reg, fields=sorted(patch.model_fields_set))
    return reg


def add_document(session: Session, principal: Principal, registration_id: int, *,
                 filename: str, description: str | None, content_type: str, size: int,
                 sha256: str) -> ProofDocument:
    reg = perm.applicant_registration(session, principal, registration_id)
    expect_state(reg, EDITABLE, "given documents")
    doc = ProofDocument(registration_id=reg.id, filename=filename, description=description,
                        content_type=content_type, size=size, sha256=sha256,
                        created_at=utcnow())
    session.add(doc)
    session.flush()
    reg.updated_at = utcnow()
    _event(session, principal, "document_added", reg, document_id=doc.id, filename=filename,
           size=size, sha256=sha256)
    return doc


def _missing(session: Session, reg: Registration) -> list[str]:
    required: dict[str, tuple[str, ...]] = {
        "initial": ("rights", "source_kind", "source_description", "algorithm_rules",
                    "scenario", "update_period"),
        "change": ("rights", "reason"),
        "licence": ("rights", "counterparty_org_id", "licence_scope"),
        "transfer": ("counterparty_org_id",),
        "cancellation": ("reason",),
    }
    missing = [name for name in required[reg.kind] if not getattr(reg, name)]
    if reg.kind in NEEDS_DOCUMENTS and not session.scalar(
            select(func.count()).select_from(ProofDocument).where(
                ProofDocument.registration_id == reg.id)):
        missing.append("documents")
    return missing


def _refuse_second_initial(session: Session, reg: Registration) -> None:
    """One product, one initial registration in progress and one certificate in effect;
    later revisions go through a change registration."""
    other = session.scalar(select(Registration.id).where(
        Registration.product_id == reg.product_id, Registration.kind == "initial",
        Registration.id != reg.id, Registration.status.in_(OPEN),
        Registration.status != "draft").limit(1))
    if other is not None:
        raise Conflict(f"registration {other} of this product is already in progress",
                       code="registration_pending", registration_id=other)
    live = session.scalar(select(Certificate.number).where(
        Certificate.product_id == reg.product_id, Certificate.status == "valid",
        Certificate.valid_until > utcnow()).limit(1))
    if live is not None:
        raise Conflict(f"the product is registered under certificate {live}; file a change "
                       "registration instead", code="already_registered", certificate=live)


def submit(session: Session, principal: Principal, registration_id: int) -> Registration:
    reg = perm.applicant_registration(session, principal, registration_id)
    expect_state(reg, EDITABLE, "submitted")
    if missing := _missing(session, reg):
        raise Conflict(f"the application is incomplete: {', '.join(missing)}",
                       code="incomplete_application", missing=missing)
    if reg.certificate_id is not None:
        cert = session.get(Certificate, reg.certificate_id)
        assert cert is not None
        _require_in_effect(session, cert)
        _refuse_if_pledged(session, cert, reg.kind)
    if reg.kind == "initial":
        _refuse_second_initial(session, reg)
    again = reg.status == "changes_requested"
    reg.status = "formal_review"
    reg.submissions += 1
    reg.updated_at = utcnow()
    _event(session, principal, "resubmitted" if again else "submitted", reg,
           submissions=reg.submissions)
    return reg


def withdraw(session: Session, principal: Principal, registration_id: int) -> Registration:
    reg = perm.applicant_registration(session, principal, registration_id)
    expect_state(reg, ("draft", "formal_review", "substantive_review", "changes_requested"),
            "withdrawn")
    reg.status = "withdrawn"
    reg.decided_at = reg.updated_at = utcnow()
    _event(session, principal, "withdrawn", reg)
    return reg


def review(session: Session, principal: Principal, registration_id: int,
           data: schemas.ReviewIn, notice_seconds: int) -> Registration:
    """The operator's formal, then substantive review."""
    reg = perm.operator_registration(session, principal, registration_id)
    expect_state(reg, ("formal_review", "substantive_review"), f"reviewed ({data.decision})")
    if data.decision != "approve" and not data.note:
        raise InvalidInput("rejecting or requesting changes needs a note for the applicant",
                           code="note_required")
    stage = "formal" if reg.status == "formal_review" else "substantive"
    now = utcnow()
    reg.review_note = data.note
    reg.updated_at = now
    if data.decision == "reject":
        reg.status, reg.decided_at = "rejected", now
        _event(session, principal, "rejected", reg, stage=stage, note=data.note)
    elif data.decision == "request_changes":
        reg.status = "changes_requested"
        _event(session, principal, "changes_requested", reg, stage=stage, note=data.note)
    elif stage == "formal":
        reg.status = "substantive_review"
        _event(session, principal, "formal_review_passed", reg, note=data.note)
    else:
        reg.status = "public_notice"
        reg.notice_start = now
        reg.notice_end = now + timedelta(seconds=notice_seconds)
        _event(session, principal, "approved", reg, note=data.note,
               notice_start=reg.notice_start, notice_end=reg.notice_end)
    return reg


def file_objection(session: Session, principal: Principal, registration_id: int,
                   reason: str) -> Objection:
    reg = perm.visible_registration(session, principal, registration_id, lock=True)
    expect_state(reg, ("public_notice",), "objected to")
    assert reg.notice_end is not None
    if utcnow() >= reg.notice_end:
        raise Conflict(f"the public notice ended at {reg.notice_end.isoformat()}",
                       code="notice_ended")
    if principal.org_id == reg.applicant_org_id:
        raise Forbidden("the applicant cannot object to its own registration",
                        code="own_registration")
    objection = Objection(registration_id=reg.id, org_id=principal.org_id, reason=reason,
                          status="open", created_at=utcnow())
    session.add(objection)
    session.flush()
    ledger.append(session, actor=principal.actor, action="objection.filed",
                  parties=[principal.org_id, reg.applicant_org_id],
                  subject=f"registration:{reg.id}/objection:{objection.id}",
                  payload={"id": objection.id, "registration_id": reg.id,
                           "org_id": principal.org_id, "reason": reason})
    return objection


def visible_objection(session: Session, principal: Principal, objection_id: int) -> Objection:
    objection = session.get(Objection, objection_id)
    if objection is not None:
        reg = session.get(Registration, objection.registration_id)
        assert reg is not None
        if perm.is_party(principal, reg) or objection.org_id == principal.org_id:
            return objection
    raise NotFound(f"objection {objection_id} does not exist", code="objection_not_found")


def resolve_objection(session: Session, principal: Principal, objection_id: int,
                      data: schemas.ResolveIn) -> Objection:
    objection = visible_objection(session, principal, objection_id)
    principal.require_operator()
    reg = session.get(Registration, objection.registration_id, with_for_update=True)
    assert reg is not None
    expect_state(reg, ("public_notice",), "have objections resolved")
    if objection.status != "open":
        raise Conflict(f"objection {objection.id} is already {objection.status}",
                       code="objection_resolved")
    objection.status = data.decision
    objection.resolution_note = data.note
    objection.resolved_at = utcnow()
    ledger.append(session, actor=principal.actor, action=f"objection.{data.decision}",
                  parties=[principal.org_id, objection.org_id, reg.applicant_org_id],
                  subject=f"registration:{reg.id}/objection:{objection.id}",
                  payload={"id": objection.id, "registration_id": reg.id, "note": data.note})
    return objection


def _platform(session: Session) -> Organization:
    org = session.scalar(select(Organization).where(Organization.is_platform.is_(True)))
    assert org is not None, "the platform organisation is created on first start"
    return org


def issue(session: Session, principal: Principal, registration_id: int, *, key: PlatformKey,
          validity_days: int) -> Registration:
    """After the notice ended with no open or upheld objection: the registration takes
    effect (a certificate, a licence, a transfer, a change or a cancellation)."""
    reg = perm.operator_registration(session, principal, registration_id)
    expect_state(reg, ("public_notice",), "issued")
    assert reg.notice_end is not None
    if utcnow() < reg.notice_end:
        raise Conflict(f"the public notice runs until {reg.notice_end.isoformat()}",
                       code="notice_not_ended", notice_end=reg.notice_end.isoformat())
    states = list(session.scalars(select(Objection.status).where(
        Objection.registration_id == reg.id)))
    if "open" in states:
        raise Conflict("objections are still open; resolve each first",
                       code="objections_unresolved")
    if "upheld" in states:
        raise Conflict("an objection was upheld; the registration can only be refused",
                       code="objection_upheld")
    _take_effect(session, principal, reg, key, validity_days)
    reg.status = "issued"
    reg.decided_at = reg.updated_at = utcnow()
    issued = session.get(Certificate, reg.issued_certificate_id) \
        if reg.issued_certificate_id else None
    _event(session, principal, "issued", reg,
           certificate=issued.number if issued is not None else None)
    return reg


def _take_effect(session: Session, principal: Principal, reg: Registration, key: PlatformKey,
                 validity_days: int) -> None:
    platform = _platform(session)
    actor = principal.actor
    if reg.kind == "initial":
        _refuse_second_initial(session, reg)
        fingerprint = session.get(Fingerprint, reg.fingerprint_id)
        assert fingerprint is not None
        cert = certificates.issue(
            session, key=key, actor=actor, platform=platform, reg=reg,
            holder=_org(session, reg.applicant_org_id), fingerprint=fingerprint,
            rights=list(reg.rights),
            valid_until=certificates.default_valid_until(validity_days), previous=None)
        reg.issued_certificate_id = cert.id
        return
    old = session.get(Certificate, reg.certificate_id, with_for_update=True)
    assert old is not None
    _require_in_effect(session, old)
    _refuse_if_pledged(session, old, reg.kind)
    if reg.kind == "licence":
        assert reg.counterparty_org_id is not None and reg.licence_scope is not None
        licence = Licence(certificate_id=old.id, registration_id=reg.id,
                          licensee_org_id=reg.counterparty_org_id, scope=reg.licence_scope,
                          valid_until=reg.licence_until, created_at=utcnow())
        session.add(licence)
        session.flush()
        ledger.append(session, actor=actor, action="certificate.licensed",
                      subject=f"certificate:{old.number}", parties=[old.holder_org_id],
                      payload={"number": old.number, "licence_id": licence.id,
                               "licensee_org_id": licence.licensee_org_id,
                               "rights": list(reg.rights), "scope": licence.scope,
                               "valid_until": licence.valid_until})
        return
    if reg.kind == "cancellation":
        certificates.end(session, old, status="cancelled", actor=actor, successor=None,
                         registration_id=reg.id)
        return
    if reg.kind == "transfer":
        assert reg.counterparty_org_id is not None
        holder, fingerprint_id = _org(session, reg.counterparty_org_id), old.fingerprint_id
        valid_until: datetime = old.valid_until
        status = "transferred"
    else:  # change: same holder, new revision or rights, a fresh validity
        holder, fingerprint_id = _org(session, old.holder_org_id), reg.fingerprint_id
        valid_until = certificates.default_valid_until(validity_days)
        status = "superseded"
    fingerprint = session.get(Fingerprint, fingerprint_id)
    assert fingerprint is not None
    new = certificates.issue(session, key=key, actor=actor, platform=platform, reg=reg,
                             holder=holder, fingerprint=fingerprint, rights=list(reg.rights),
                             valid_until=valid_until, previous=old)
    certificates.end(session, old, status=status, actor=actor, successor=new,
                     registration_id=reg.id)
    reg.issued_certificate_id = new.id


def refuse(session: Session, principal: Principal, registration_id: int,
           note: str | None) -> Registration:
    reg = perm.operator_registration(session, principal, registration_id)
    expect_state(reg, ("public_notice",), "refused")
    if not note:
        raise InvalidInput("refusing needs a note for the applicant", code="note_required")
    reg.status = "refused"
    reg.review_note = note
    reg.decided_at = reg.updated_at = utcnow()
    _event(session, principal, "refused", reg, note=note)
    return reg


def list_for(session: Session, principal: Principal, *, notices: bool, status: str | None,
             offset: int, limit: int) -> list[Registration]:
    """Public notices (anyone), every registration (operator) or the caller's own."""
    query = select(Registration).order_by(Registration.id)
    if notices:
        query = query.where(Registration.status == "public_notice",
                            Registration.notice_end > utcnow())
    elif principal.is_operator:
        query = query.where(or_(Registration.applicant_org_id == principal.org_id,
                                Registration.submissions > 0))
    else:
        query = query.where(Registration.applicant_org_id == principal.org_id)
    if status is not None:
        query = query.where(Registration.status == status)
    return list(session.scalars(query.offset(offset).limit(limit + 1)))


def to_out(session: Session, reg: Registration) -> schemas.RegistrationOut:
    product = session.get(Product, reg.product_id)
    assert product is not None
    fingerprint = session.get(Fingerprint, reg.fingerprint_id) if reg.fingerprint_id else None
    revision = session.get(Revision, fingerprint.revision_id) if fingerprint else None
    cert = session.get(Certificate, reg.certificate_id) if reg.certificate_id else None
    issued = session.get(Certificate, reg.issued_certificate_id) \
        if reg.issued_certificate_id else None
    docs = session.scalars(select(ProofDocument).where(
        ProofDocument.registration_id == reg.id).order_by(ProofDocument.id))
    return schemas.RegistrationOut(
        id=reg.id, kind=reg.kind, status=reg.status, applicant_org_id=reg.applicant_org_id,
        product=product.slug, revision=revision.number if revision else None,
        fingerprint_root=fingerprint.root if fingerprint else None,
        certificate=cert.number if cert else None, data_name=reg.data_name,
        rights=[schemas.RightOut(code=r, zh=RIGHTS[r][0], en=RIGHTS[r][1]) for r in reg.rights],
        source_kind=reg.source_kind, source_description=reg.source_description,
        algorithm_rules=reg.algorithm_rules, scenario=reg.scenario,
        update_period=reg.update_period, counterparty_org_id=reg.counterparty_org_id,
        licence_scope=reg.licence_scope, licence_until=reg.licence_until,
        pledge_id=reg.pledge_id, reason=reg.reason, review_note=reg.review_note,
        submissions=reg.submissions, notice_start=reg.notice_start, notice_end=reg.notice_end,
        issued_certificate=issued.number if issued else None,
        documents=[schemas.DocumentOut.model_validate(d, from_attributes=True) for d in docs],
        created_at=reg.created_at, updated_at=reg.updated_at, decided_at=reg.decided_at)


def objection_out(o: Objection) -> schemas.ObjectionOut:
    return schemas.ObjectionOut.model_validate(o, from_attributes=True)
