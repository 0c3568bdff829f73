"""Helpers shared by the consumer pages (consumer.py, consumer_sandbox.py,
consumer_billing.py): the role check, form validation and readable policies."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.contracts import policy
from shugu.entitlements.models import QUOTA_KINDS, Entitlement
from shugu.errors import NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.portal import pages
from shugu.runtime import Exchange
from shugu.sandbox.dp import budget

M = TypeVar("M", bound=BaseModel)


def member(ex: Exchange, request: Request) -> Principal:
    """The signed-in user of a consumer organisation; anyone else sees no such page."""
    return pages.member_of(ex, request, "consumer")


def validated(model: type[M], **data: Any) -> M:
    """A form's fields as the domain's own input model (422 invalid_request page)."""
    return pages.validated(model, data)


def number(text: str | None, field: str) -> int | None:
    """An optional whole number typed into a form."""
    return pages.whole_number(text, field, code="invalid_form", minimum=0)


def org_name(session: Session, org_id: int | None, lang: str) -> str:
    org = session.get(Organization, org_id) if org_id is not None else None
    if org is None:
        return "—"
    return org.name_en if lang == "en" and org.name_en else org.name


def product_title(session: Session, slug_or_id: str | int, lang: str) -> str:
    product = session.get(Product, slug_or_id) if isinstance(slug_or_id, int) else \
        session.query(Product).filter_by(slug=slug_or_id).one_or_none()
    if product is None:
        return str(slug_or_id)
    return product.title_en if lang == "en" and product.title_en else product.title_zh


def usage(session: Session, e: Entitlement | None) -> dict[str, Any] | None:
    """Quotas with what is used and what remains, and the privacy budget, of an
    entitlement (read straight from the domain's own rows and budget.summary)."""
    if e is None:
        return None
    quotas = []
    for kind in QUOTA_KINDS:
        limit, used = getattr(e, f"quota_{kind}"), getattr(e, f"used_{kind}")
        quotas.append({"kind": kind, "quota": limit, "used": used,
                       "remaining": None if limit is None else max(0, limit - used)})
    return {"id": e.id, "modes": list(e.modes), "quotas": quotas,
            "queries_left": quotas[0]["remaining"],
            "budget": budget.summary(session, e.id), "revoked_at": e.revoked_at,
            "valid_from": e.valid_from, "valid_until": e.valid_until}


def purposes(lang: str) -> list[tuple[str, str]]:
    """The controlled purpose vocabulary as (code, label in the reader's language)."""
    return [(code, zh if lang == "zh" else en) for code, (zh, en) in policy.PURPOSES.items()]


def purpose_label(code: str | None, lang: str) -> str:
    if code is None:
        return "—"
    zh, en = policy.PURPOSES.get(code, (code, code))
    return zh if lang == "zh" else en


def readable(raw: dict[str, Any], lang: str) -> list[tuple[str, str, dict[str, Any]]]:
    """A usage policy as (message key, kind, values) lines for the template: what the
    domain's parser (policy.parse) understood, in the order a reader needs it."""
    _, rules = policy.parse(raw)
    out: list[tuple[str, str, dict[str, Any]]] = []
    if rules.modes:
        out.append(("cons.pol.modes", "modes", {"modes": rules.modes[0]}))
    if rules.purposes:
        op, codes, _ = rules.purposes
        labels = "、".join(purpose_label(c, lang) for c in codes) if lang == "zh" else \
            ", ".join(purpose_label(c, lang) for c in codes)
        out.append(("cons.pol.purposes_none" if op == "isNoneOf" else "cons.pol.purposes",
                    "text", {"text": labels}))
    if rules.starts:
        out.append(("cons.pol.starts", "text", {"text": rules.starts[0].isoformat()}))
    if rules.ends:
        out.append(("cons.pol.ends", "text", {"text": rules.ends[0].isoformat()}))
    if rules.duration:
        out.append(("cons.pol.duration", "text", {"text": rules.duration[0].text}))
    for unit, (n, _) in rules.quotas.items():
        out.append(("cons.pol.quota", "quota", {"unit": unit, "n": n}))
    if rules.epsilon:
        out.append(("cons.pol.epsilon", "text", {"text": str(rules.epsilon[0])}))
    if rules.recipients:
        op, who, _ = rules.recipients
        out.append(("cons.pol.recipients_none" if op == "isNoneOf" else "cons.pol.recipients",
                    "text", {"text": ", ".join(str(x) for x in who)}))
    if rules.roles:
        out.append(("cons.pol.roles", "text", {"text": ", ".join(rules.roles[0])}))
    if rules.delete_duty:
        grace = rules.delete_duty[0]
        out.append(("cons.pol.delete", "text", {"text": grace.text}) if grace else
                   ("cons.pol.delete_plain", "flag", {}))
    for action, _ in rules.prohibited:
        out.append((f"cons.pol.no_{action}", "flag", {}))
    return out


def ident(text: str | None) -> int:
    """A numeric id from the path or query string; anything else is a page that does not
    exist (404 page), not a validation error."""
    if text is None or not text.isdigit() or len(text) > 18:
        raise NotFound(f"{text!r} is not an id", code="not_found")
    return int(text)
