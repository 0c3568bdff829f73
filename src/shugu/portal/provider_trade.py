"""The provider's product workspace, second half: offers and their usage policies, the
negotiations waiting on the provider, and the tables' analysis rules."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.catalog import products
from shugu.catalog.permissions import find_table
from shugu.contracts import negotiation, offers, policy
from shugu.contracts.models import FINAL_STATES
from shugu.entitlements.models import MODES, QUOTA_KINDS
from shugu.errors import InvalidInput, NotFound
from shugu.pagination import MAX_LIMIT
from shugu.portal import provider_forms as forms
from shugu.portal.pages import done, posted
from shugu.portal.provider_access import org_names, own_product, provider_of
from shugu.portal.provider_workspace import workspace
from shugu.sandbox import rules
from shugu.sandbox import schemas as sandbox

router = APIRouter()
# What the provider may send in each state (contracts.negotiation.TRANSITIONS).
PROVIDER_MOVES = {"REQUESTED": ("agree",), "ACCEPTED": ("agree",), "VERIFIED": ("finalize",)}
# Where the provider may counter-offer a new price instead (the API's POST .../offer).
COUNTER_STATES = negotiation.TRANSITIONS["offer"][1]


def _offers_path(slug: str) -> str:
    return f"/provider/products/{slug}/offers"


# -- offers --------------------------------------------------------------------------------

@router.get("/provider/products/{slug}/offers")
def offer_list(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        mine = [offers.to_out(s, o) for o in offers.list_for_product(s, who, slug)]
        waiting = [n for n in negotiation.list_for(s, who, "provider", None, MAX_LIMIT,
                                                   None).items
                   if n.product == slug and n.state not in FINAL_STATES]
        names = org_names(s, {n.consumer_org_id for n in waiting}
                          | {o.private_org_id for o in mine if o.private_org_id})
    return workspace(request, who, out, "offers", offers=mine, negotiations=waiting,
                     names=names, plans=forms.PLANS, modes=MODES, purposes=policy.PURPOSES,
                     quota_kinds=QUOTA_KINDS, prohibited=policy.PROHIBITED_ACTIONS,
                     moves=PROVIDER_MOVES, counter_states=COUNTER_STATES)


@router.post("/provider/products/{slug}/offers")
async def offer_create(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    data = forms.offer_in(form)
    with ex.transaction() as s:
        own_product(s, who, slug)
        offers.create(s, who, slug, data)
    return done(_offers_path(slug), "prov_offer")


@router.post("/provider/products/{slug}/offers/{offer_id}/withdraw")
async def offer_withdraw(slug: str, offer_id: int, request: Request,
                         ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    await posted(request, who)
    with ex.transaction() as s:
        product = own_product(s, who, slug)
        offer = offers.get(s, who, offer_id)
        if offer.product_id != product.id:
            raise NotFound(f"offer {offer_id} does not exist", code="offer_not_found")
        offers.withdraw(s, who, offer_id)
    return done(_offers_path(slug), "prov_withdrawn")


@router.post("/provider/products/{slug}/negotiations/{negotiation_id}/{message}")
async def negotiation_move(slug: str, negotiation_id: int, message: str, request: Request,
                           ex: ExchangeDep) -> Response:
    """The provider agrees to a request, counter-offers a new price, finalizes a verified
    agreement or terminates; contracts.negotiation checks the state and the side."""
    who = provider_of(ex, request)
    form = await posted(request, who)
    if message not in ("agree", "offer", "finalize", "terminate"):
        raise NotFound("no such message", code="not_found")
    counter = forms.counter_in(form) if message == "offer" else None
    note = form.get("note", "").strip() or None
    with ex.transaction() as s:
        product = own_product(s, who, slug)
        n = negotiation.get(s, who, negotiation_id)
        if n.product_id != product.id:
            raise NotFound(f"negotiation {negotiation_id} does not exist",
                           code="negotiation_not_found")
        if message == "terminate":
            if not note:
                raise InvalidInput("terminating needs a reason", code="reason_required")
            negotiation.terminate(s, who, negotiation_id, note)
        elif counter is not None:
            negotiation.counter(s, who, negotiation_id, "offer", counter)
        else:
            negotiation.reply(s, who, negotiation_id, message, note)
    return done(_offers_path(slug), f"prov_negotiation_{message}")


# -- analysis rules --------------------------------------------------------------------------

def _history(s: Any, who: Any, slug: str, table: Any) -> list[dict[str, Any]]:
    latest = rules.latest(s, table.id)
    if latest is None:
        return []
    out = []
    for version in range(latest.version, 0, -1):
        _, _, row = rules.get_rules(s, who, slug, table.name, version)
        out.append({"version": row.version, "created_at": row.created_at,
                    "body": json.dumps(row.body, ensure_ascii=False, indent=2)})
    return out


@router.get("/provider/products/{slug}/rules")
def rules_page(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        tables = []
        for t in product.tables:
            history = _history(s, who, slug, t)
            draft = history[0]["body"] if history else json.dumps(
                forms.rules_template(list(t.schema_json or [])), ensure_ascii=False, indent=2)
            tables.append({"name": t.name, "has_data": t.current_version is not None,
                           "history": history, "draft": draft, "mode": _mode(draft)})
    return workspace(request, who, out, "rules", tables=tables)


def _mode(draft: str) -> str:
    """The rule kind the form holds (the schema's default when it names none)."""
    try:
        mode = json.loads(draft).get("mode", "dp")
    except (ValueError, AttributeError):
        return "dp"
    return mode if mode in ("dp", "aggregate", "templates") else "dp"


@router.post("/provider/products/{slug}/tables/{table}/rules")
async def rules_set(slug: str, table: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    body = forms.parse_json(form.get("rules", ""), "analysis rules")
    if not isinstance(body, dict):
        raise InvalidInput("the analysis rules must be a JSON object", code="invalid_json")
    data = forms.validated(sandbox.RulesIn, body)
    with ex.transaction() as s:
        find_table(s, own_product(s, who, slug), table)
        rules.set_rules(s, who, slug, table, data)
    return done(f"/provider/products/{slug}/rules", "prov_rules", table=table)
