"""Issuing certificates, their current status, and their API shapes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.billing.periods import document_number
from shugu.catalog.models import Product, Revision
from shugu.db import utcnow
from shugu.identity.models import Organization
from shugu.jsoncanon import canonical_bytes
from shugu.ledger import service as ledger
from shugu.platform_key import PlatformKey
from shugu.rights import certfile, schemas
from shugu.rights.models import RIGHTS, Certificate, Fingerprint, Licence, Pledge, Registration

NUMBER_PREFIX = "SG-DIP"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def rights_labels(codes: list[str]) -> list[dict[str, str]]:
    return [{"code": c, "zh": RIGHTS[c][0], "en": RIGHTS[c][1]} for c in codes]


def issue(session: Session, *, key: PlatformKey, actor: str, platform: Organization,
          reg: Registration, holder: Organization, fingerprint: Fingerprint, rights: list[str],
          valid_until: datetime, previous: Certificate | None) -> Certificate:
    """Create, number and sign a certificate; append `certificate.issued`."""
    product = session.get(Product, fingerprint.product_id)
    revision = session.get(Revision, fingerprint.revision_id)
    assert product is not None and revision is not None
    now = utcnow().replace(microsecond=0)
    cert = Certificate(number=f"pending-{secrets.token_hex(8)}", registration_id=reg.id,
                       holder_org_id=holder.id, product_id=product.id,
                       fingerprint_id=fingerprint.id, rights=list(rights), issued_at=now,
                       valid_until=valid_until.replace(microsecond=0), status="valid",
                       content={}, signature="", key_id=key.key_id, public_key=key.public_b64)
    session.add(cert)
    session.flush()
    # The id is unique under any concurrency, so the number needs no counter of its own.
    cert.number = document_number(NUMBER_PREFIX, now, cert.id)  # the exchange's one calendar
    content: dict[str, Any] = {
        "number": cert.number,
        "title": {"zh": "数据知识产权登记证书", "en": "Data Intellectual Property Registration "
                  "Certificate"},
        "holder": {"name": holder.name, "uscc": holder.uscc},
        "rights": rights_labels(list(rights)),
        "product": {"slug": product.slug, "title_zh": product.title_zh,
                    "title_en": product.title_en},
        "data_name": reg.data_name,
        "revision": {"number": revision.number, "name": revision.name,
                     "table_versions": dict(fingerprint.table_versions)},
        "fingerprint": {"algorithm": fingerprint.algorithm, "root": fingerprint.root,
                        "file_count": fingerprint.file_count,
                        "total_bytes": fingerprint.total_bytes},
        "registration": {"id": reg.id, "kind": reg.kind},
        "data_source": {"kind": reg.source_kind, "description": reg.source_description},
        "scenario": reg.scenario,
        "update_period": reg.update_period,
        "issued_at": _iso(now),
        "valid_until": _iso(cert.valid_until),
        "previous_number": previous.number if previous is not None else None,
        "issuer": {"name": platform.name, "uscc": platform.uscc},
    }
    cert.content = content
    sig = certfile.sign(content, key)
    cert.signature = sig["value"]
    ledger.append(session, actor=actor, action="certificate.issued",
                  subject=f"certificate:{cert.number}",
                  payload={"number": cert.number, "registration_id": reg.id,
                           "holder_org_id": holder.id, "product": product.slug,
                           "fingerprint_root": fingerprint.root, "rights": list(rights),
                           "valid_until": content["valid_until"],
                           "previous_number": content["previous_number"],
                           "content_sha256": hashlib.sha256(canonical_bytes(content)).hexdigest(),
                           "key_id": key.key_id})
    return cert


def end(session: Session, cert: Certificate, *, status: str, actor: str,
        successor: Certificate | None, registration_id: int) -> None:
    """A certificate stops being in effect: transferred, superseded or cancelled."""
    cert.status = status
    cert.ended_at = utcnow()
    cert.successor_id = successor.id if successor is not None else None
    ledger.append(session, actor=actor, action=f"certificate.{status}",
                  subject=f"certificate:{cert.number}", parties=[cert.holder_org_id],
                  payload={"number": cert.number, "registration_id": registration_id,
                           "successor": successor.number if successor is not None else None})


def active_pledges(session: Session, cert: Certificate) -> list[Pledge]:
    return list(session.scalars(select(Pledge).where(
        Pledge.certificate_id == cert.id, Pledge.status == "active").order_by(Pledge.id)))


def current_status(session: Session, cert: Certificate, now: datetime | None = None) -> str:
    if cert.status != "valid":
        return cert.status
    if (now or utcnow()) >= cert.valid_until:
        return "expired"
    return "pledged" if active_pledges(session, cert) else "valid"


def in_effect(session: Session, cert: Certificate) -> bool:
    return current_status(session, cert) in ("valid", "pledged")


def file_of(cert: Certificate) -> schemas.CertificateFile:
    return schemas.CertificateFile(
        certificate=cert.content,
        signature=schemas.Signature(key_id=cert.key_id, public_key=cert.public_key,
                                    value=cert.signature))


def _org_name(session: Session, org_id: int) -> str:
    org = session.get(Organization, org_id)
    return org.name if org is not None else str(org_id)


def encumbrances(session: Session, cert: Certificate) -> list[schemas.Encumbrance]:
    return [schemas.Encumbrance(pledge_id=p.id, pledgee=_org_name(session, p.pledgee_org_id),
                                pledgee_org_id=p.pledgee_org_id, amount_fen=p.amount_fen,
                                term_start=p.term_start, term_end=p.term_end,
                                registered_at=p.created_at)
            for p in active_pledges(session, cert)]


def _successor(session: Session, cert: Certificate) -> str | None:
    if cert.successor_id is None:
        return None
    nxt = session.get(Certificate, cert.successor_id)
    return nxt.number if nxt is not None else None


def to_out(session: Session, cert: Certificate) -> schemas.CertificateOut:
    product = session.get(Product, cert.product_id)
    assert product is not None
    licences = session.scalars(select(Licence).where(
        Licence.certificate_id == cert.id).order_by(Licence.id))
    return schemas.CertificateOut(
        number=cert.number, status=current_status(session, cert),
        holder_org_id=cert.holder_org_id, product=product.slug, issued_at=cert.issued_at,
        valid_until=cert.valid_until, ended_at=cert.ended_at,
        successor=_successor(session, cert), encumbrances=encumbrances(session, cert),
        licences=[schemas.LicenceOut(
            id=lic.id, licensee_org_id=lic.licensee_org_id,
            licensee=_org_name(session, lic.licensee_org_id), scope=lic.scope,
            valid_until=lic.valid_until, registration_id=lic.registration_id,
            created_at=lic.created_at) for lic in licences],
        file=file_of(cert))


def public_status(session: Session, cert: Certificate) -> schemas.PublicStatus:
    holder = session.get(Organization, cert.holder_org_id)
    product = session.get(Product, cert.product_id)
    fingerprint = session.get(Fingerprint, cert.fingerprint_id)
    assert holder is not None and product is not None and fingerprint is not None
    return schemas.PublicStatus(
        number=cert.number, status=current_status(session, cert),  # type: ignore[arg-type]
        holder=holder.name, holder_uscc=holder.uscc, product=product.slug,
        rights=list(cert.rights), fingerprint_root=fingerprint.root, issued_at=cert.issued_at,
        valid_until=cert.valid_until, ended_at=cert.ended_at,
        successor=_successor(session, cert), encumbrances=encumbrances(session, cert),
        checked_at=utcnow())


def list_for(session: Session, org_id: int | None, offset: int, limit: int) -> list[Certificate]:
    query = select(Certificate).order_by(Certificate.id)
    if org_id is not None:
        query = query.where(Certificate.holder_org_id == org_id)
    return list(session.scalars(query.offset(offset).limit(limit + 1)))


def default_valid_until(days: int) -> datetime:
    return utcnow() + timedelta(days=days)


def for_product(session: Session, product_id: int) -> list[Certificate]:
    """A product's certificates, newest first (their public status is public)."""
    return list(session.scalars(select(Certificate).where(
        Certificate.product_id == product_id).order_by(Certificate.id.desc())))
