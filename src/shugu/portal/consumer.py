"""Portal consumer pages, under /consumer: the dashboard, offers, negotiations, agreements
and the Delta Sharing profile. The sandbox (consumer_sandbox.py) and invoices
(consumer_billing.py) are included below. Every action calls the domain's service with the
signed-in Principal; the domain decides who may do what."""

from __future__ import annotations

import json
from datetime import UTC

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shugu.api.deps import ExchangeDep
from shugu.billing import service as billing
from shugu.billing.money import parse_yuan
from shugu.catalog.models import Product
from shugu.contracts import agreements, negotiation, offers
from shugu.contracts import permissions as contract_permissions
from shugu.contracts import schemas as contract_schemas
from shugu.contracts.models import FINAL_STATES, Offer
from shugu.entitlements import schemas as entitlement_schemas
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.errors import InvalidInput
from shugu.identity import schemas as id_schemas
from shugu.identity import service as identity
from shugu.identity.principal import Principal
from shugu.portal import consumer_billing, consumer_private, consumer_sandbox, i18n
from shugu.portal.consumer_common import (
    ident,
    member,
    number,
    org_name,
    product_title,
    purpose_label,
    purposes,
    readable,
    usage,
    validated,
)
from shugu.portal.pages import done, posted, render

router = APIRouter()
router.include_router(consumer_sandbox.router)
router.include_router(consumer_private.router)
router.include_router(consumer_billing.router)

PAGE = 20
# The messages a consumer may send, from the domain's own transition table.
CONSUMER_MESSAGES = tuple(m for m, (side, _, _) in negotiation.TRANSITIONS.items()
                          if side in ("consumer", None))


def consumer_actions(state: str) -> list[str]:
    """What the consumer side may send in this state (negotiation.TRANSITIONS)."""
    return [m for m in CONSUMER_MESSAGES if state in negotiation.TRANSITIONS[m][1]]


# -- dashboard -------------------------------------------------------------------------------

def _all_agreements(s: Session, who: Principal) -> list[contract_schemas.AgreementOut]:
    out: list[contract_schemas.AgreementOut] = []
    token: str | None = None
    while True:
        page = agreements.list_for(s, who, "consumer", 500, token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


@router.get("/consumer")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        # Open ones by state, so that old closed negotiations never crowd them out.
        open_negotiations = sorted(
            (n for state in negotiation.STATES if state not in FINAL_STATES
             for n in negotiation.list_for(s, who, "consumer", state, 100, None).items),
            key=lambda n: n.updated_at, reverse=True)
        live = []
        for a in _all_agreements(s, who):
            if not a.live:
                continue
            e = s.get(Entitlement, a.entitlement_id) if a.entitlement_id else None
            live.append({"a": a, "title": product_title(s, a.product, lang),
                         "usage": usage(s, e)})
        unpaid = billing.list_invoices(s, who, "consumer", "issued", 100, None).items
        titles = {x.product: product_title(s, x.product, lang)
                  for x in [*open_negotiations, *unpaid]}
    return render(request, "consumer/home.html", who=who, negotiations=open_negotiations,
                  live=live, unpaid=unpaid, titles=titles)


# -- offers ----------------------------------------------------------------------------------

@router.get("/consumer/offers/{raw_offer_id}")
def offer_page(raw_offer_id: str, request: Request, ex: ExchangeDep, purpose: str = "",
               mode: str = "", check: str = "") -> Response:
    offer_id = ident(raw_offer_id)
    who = member(ex, request)
    lang = i18n.language(request)
    decision = None
    with ex.read() as s:
        offer = offers.get(s, who, offer_id)
        out = offers.to_out(s, offer)
        product = s.get(Product, offer.product_id)
        assert product is not None
        provider = org_name(s, offer.provider_org_id, lang)
        if check:
            decision = offers.evaluate(s, who, offer_id, validated(
                contract_schemas.EvaluateIn, purpose=purpose or None, mode=mode or None))
    return render(request, "consumer/offer.html", who=who, offer=out, product=product,
                  provider=provider, policy_lines=readable(out.policy, lang),
                  purposes=purposes(lang), decision=decision, purpose=purpose, mode=mode)


@router.post("/consumer/offers/{raw_offer_id}/request")
async def request_offer(raw_offer_id: str, request: Request, ex: ExchangeDep) -> Response:
    offer_id = ident(raw_offer_id)
    who = member(ex, request)
    form = await posted(request, who)
    terms = None
    if form.get("price_yuan", "").strip():
        terms = {"price_fen": parse_yuan(form["price_yuan"])}
    data = validated(contract_schemas.NegotiationIn, offer_id=offer_id,
                     purpose=form.get("purpose", ""),
                     purpose_text=form.get("purpose_text", "").strip() or None, terms=terms)
    with ex.transaction() as s:
        n = negotiation.request(s, who, data)
        state, agreement_id, nid = n.state, n.agreement_id, n.id
    if state == "FINALIZED" and agreement_id is not None:
        return done(f"/consumer/agreements/{agreement_id}", "cons_concluded")
    return done(f"/consumer/negotiations/{nid}", "cons_requested")


# -- negotiations ----------------------------------------------------------------------------

@router.get("/consumer/negotiations")
def negotiations_page(request: Request, ex: ExchangeDep, state: str = "",
                      page_token: str | None = None) -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        page = negotiation.list_for(s, who, "consumer", state or None, PAGE, page_token)
        titles = {n.product: product_title(s, n.product, lang) for n in page.items}
    return render(request, "consumer/negotiations.html", who=who, page=page, state=state,
                  titles=titles, states=negotiation.STATES)


@router.get("/consumer/negotiations/{raw_negotiation_id}")
def negotiation_page(raw_negotiation_id: str, request: Request, ex: ExchangeDep) -> Response:
    negotiation_id = ident(raw_negotiation_id)
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        n, side = contract_permissions.negotiation_side(s, who, negotiation_id)
        out = negotiation.to_out(s, n)
        offer = s.get(Offer, n.offer_id)
        title = product_title(s, n.product_id, lang)
        provider = org_name(s, n.provider_org_id, lang)
    actions = consumer_actions(out.state) if side == "consumer" else []
    return render(request, "consumer/negotiation.html", who=who, n=out, side=side,
                  offer=offer, title=title, provider=provider, actions=actions,
                  policy_lines=readable(out.terms["policy"], lang),
                  purpose=purpose_label(out.purpose, lang))


@router.post("/consumer/negotiations/{raw_negotiation_id}/{message}")
async def negotiation_message(raw_negotiation_id: str, message: str, request: Request,
                              ex: ExchangeDep) -> Response:
    negotiation_id = ident(raw_negotiation_id)
    who = member(ex, request)
    form = await posted(request, who)
    if message not in CONSUMER_MESSAGES:
        raise InvalidInput(f"{message!r} is not a message the consumer sends",
                           code="invalid_message")
    note = form.get("note", "").strip() or None
    with ex.transaction() as s:
        if message == "terminate":
            body = validated(contract_schemas.TerminateIn, reason=form.get("reason", "").strip())
            negotiation.terminate(s, who, negotiation_id, body.reason)
        elif message == "request":
            price = form.get("price_yuan", "").strip()
            if not price:
                raise InvalidInput("give the price you propose", code="invalid_form",
                                   field="price_yuan")
            counter = validated(contract_schemas.CounterIn, note=note,
                                terms={"price_fen": parse_yuan(price)})
            negotiation.counter(s, who, negotiation_id, "request", counter)
        else:
            validated(contract_schemas.MessageIn, note=note)
            negotiation.reply(s, who, negotiation_id, message, note)
    return done(f"/consumer/negotiations/{negotiation_id}", f"cons_{message}")


# -- agreements ------------------------------------------------------------------------------

@router.get("/consumer/agreements")
def agreements_page(request: Request, ex: ExchangeDep,
                    page_token: str | None = None) -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        page = agreements.list_for(s, who, "consumer", PAGE, page_token)
        rows = [{"a": a, "title": product_title(s, a.product, lang),
                 "provider": org_name(s, a.provider_org_id, lang),
                 "usage": usage(s, s.get(Entitlement, a.entitlement_id)
                                if a.entitlement_id else None)} for a in page.items]
    return render(request, "consumer/agreements.html", who=who, page=page, rows=rows)


@router.get("/consumer/agreements/{raw_agreement_id}")
def agreement_page(raw_agreement_id: str, request: Request, ex: ExchangeDep) -> Response:
    agreement_id = ident(raw_agreement_id)
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        a = agreements.get(s, who, agreement_id)
        side = "consumer" if a.consumer_org_id == who.org_id else \
            "provider" if a.provider_org_id == who.org_id else None
        out = agreements.to_out(s, a)
        e = s.get(Entitlement, a.entitlement_id) if a.entitlement_id else None
        product = s.get(Product, a.product_id)
        assert product is not None
        tables = [t.name for t in product.tables if t.current_version is not None]
        info = usage(s, e)
        share_live = e is not None and entitlements.is_live(e, "share")
        sandbox_live = e is not None and entitlements.is_live(e, "sandbox")
        provider = org_name(s, a.provider_org_id, lang)
        title = product_title(s, a.product_id, lang)
    return render(request, "consumer/agreement.html", who=who, a=out, side=side,
                  usage=info, share_live=share_live, sandbox_live=sandbox_live,
                  tables=tables, provider=provider, title=title,
                  terms_json=json.dumps(out.terms, ensure_ascii=False, indent=2),
                  policy_lines=readable(out.terms["policy"], lang),
                  purpose=purpose_label(out.terms.get("purpose"), lang))


@router.post("/consumer/agreements/{raw_agreement_id}/terminate")
async def terminate_agreement(raw_agreement_id: str, request: Request, ex: ExchangeDep) -> Response:
    agreement_id = ident(raw_agreement_id)
    who = member(ex, request)
    form = await posted(request, who)
    body = validated(contract_schemas.TerminateIn, reason=form.get("reason", "").strip())
    with ex.transaction() as s:
        agreements.terminate(s, who, agreement_id, body.reason)
    return done(f"/consumer/agreements/{agreement_id}", "cons_terminated")


@router.post("/consumer/agreements/{raw_agreement_id}/confirm-deletion")
async def confirm_deletion(raw_agreement_id: str, request: Request, ex: ExchangeDep) -> Response:
    agreement_id = ident(raw_agreement_id)
    who = member(ex, request)
    await posted(request, who)
    with ex.transaction() as s:
        agreements.confirm_deletion(s, who, agreement_id)
    return done(f"/consumer/agreements/{agreement_id}", "cons_deleted")


@router.post("/consumer/agreements/{raw_agreement_id}/profile")
async def sharing_profile(raw_agreement_id: str, request: Request, ex: ExchangeDep) -> Response:
    """A Delta Sharing profile file, made exactly as POST /api/v1/sharing/profile makes it
    (a new token of scope "sharing"), sent as a download: its secret is shown only once."""
    agreement_id = ident(raw_agreement_id)
    who = member(ex, request)
    form = await posted(request, who)
    days = number(form.get("expires_in_days"), "expires_in_days")
    with ex.transaction() as s:
        a, side = contract_permissions.agreement_side(s, who, agreement_id)
        contract_permissions.require_side(side, "consumer", "a sharing profile")
        if a.entitlement_id is None:
            raise InvalidInput("this agreement has no entitlement", code="not_entitled")
        entitlements.check_live(s, a.entitlement_id, "share")
        body = validated(entitlement_schemas.ProfileIn, name=f"portal {a.number}",
                         expires_in_days=days)
        token, secret = identity.create_token(
            s, who, id_schemas.TokenIn(name=body.name, expires_in_days=body.expires_in_days),
            ex.token_ttl, scope="sharing")
        slug = s.get(Product, a.product_id).slug  # type: ignore[union-attr]
    expires = token.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") \
        if token.expires_at else None
    base = (ex.settings.public_url or str(request.base_url)).rstrip("/")
    profile = entitlement_schemas.Profile(endpoint=f"{base}/delta-sharing",
                                          bearerToken=secret, expirationTime=expires)
    return Response(profile.model_dump_json(indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{slug}.share"',
                             "Cache-Control": "no-store"})
