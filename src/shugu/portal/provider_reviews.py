"""The provider's product workspace: reviewed sandbox queries. A consumer whose query a
templates-only table refused may send it for the provider's review; here the provider reads
the SQL and the note and approves or rejects it (sandbox.templates.decide, the same service
as the API's POST /sandbox/reviews/{id}/decision). An approved query runs once."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shugu.api.deps import ExchangeDep
from shugu.catalog import products
from shugu.errors import NotFound
from shugu.identity.principal import Principal
from shugu.portal import provider_forms as forms
from shugu.portal.pages import done, posted
from shugu.portal.provider_access import org_names, own_product, provider_of
from shugu.portal.provider_workspace import workspace
from shugu.sandbox import schemas as sandbox
from shugu.sandbox import templates
from shugu.sandbox.models import QueryReview

router = APIRouter()
DECISIONS = {"approve": True, "reject": False}


def waiting_count(session: Session, who: Principal) -> int:
    """Reviews of the organisation's products still waiting for a decision."""
    return sum(r.status == "pending" for r in templates.list_reviews(session, who, "provider"))


@router.get("/provider/products/{slug}/reviews")
def review_list(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        reviews = [templates.review_out(s, r)
                   for r in templates.list_reviews(s, who, "provider")
                   if r.product_id == product.id]
        names = org_names(s, {r.consumer_org_id for r in reviews})
    return workspace(request, who, out, "reviews", reviews=reviews, names=names)


@router.post("/provider/products/{slug}/reviews/{review_id}/{decision}")
async def review_decide(slug: str, review_id: int, decision: str, request: Request,
                        ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    if decision not in DECISIONS:
        raise NotFound("no such page", code="not_found")
    data = forms.validated(sandbox.DecisionIn, {
        "approve": DECISIONS[decision], "note": form.get("note", "").strip() or None})
    with ex.transaction() as s:
        product = own_product(s, who, slug)
        review = s.get(QueryReview, review_id)
        if review is None or review.product_id != product.id:  # not this product's
            raise NotFound(f"review {review_id} does not exist", code="review_not_found")
        templates.decide(s, who, review_id, data)
    return done(f"/provider/products/{slug}/reviews", f"prov_review_{decision}")
