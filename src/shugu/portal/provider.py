"""Portal provider pages, under /provider. Every action calls the domain's service with the
signed-in Principal; the domain decides who may do what.

Only organisations holding the provider role see these pages (anyone else: 404), and only
their own products (another organisation's product: 404, as if it did not exist).

- /provider                      dashboard: own products, counts, links
- /provider/products/new         create a product (catalog.products.create_product)
- /provider/products/{slug}/...  the product workspace (provider_workspace.py, provider_trade.py)
- /provider/usage                who uses what; usage and revenue per month
- /provider/products/{slug}/reviews  consumers' queries sent for review (provider_reviews.py)
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.billing import periods
from shugu.billing import service as billing
from shugu.catalog import products
from shugu.contracts import agreements, negotiation
from shugu.db import utcnow
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import QUOTA_KINDS
from shugu.metering import service as metering
from shugu.pagination import MAX_LIMIT
from shugu.portal import provider_forms as forms
from shugu.portal import provider_reviews, provider_rights, provider_trade, provider_workspace
from shugu.portal.pages import done, posted, render, yuan
from shugu.portal.provider_access import org_names, provider_of

router = APIRouter()
MONTHS = 12


@router.get("/provider")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    months = periods.recent_months(utcnow(), MONTHS)
    with ex.read() as s:
        mine = products.list_products(s, who, who.org_id, MAX_LIMIT, None).items
        deals = agreements.list_for(s, who, "provider", MAX_LIMIT, None).items
        revenue = billing.provider_monthly_revenue(s, who, months)
        waiting = [n for n in negotiation.list_for(s, who, "provider", None, MAX_LIMIT,
                                                   None).items
                   if n.state in provider_trade.PROVIDER_MOVES]
        names = org_names(s, {n.consumer_org_id for n in waiting})
        reviews_waiting = provider_reviews.waiting_count(s, who)
    counts = {
        "listed": sum(p.status == "listed" for p in mine),
        "in_review": sum(p.status == "in_review" for p in mine),
        "agreements": sum(a.status == "active" for a in deals),
        "settled_fen": sum(m["settled_fen"] for m in revenue.values()),
        "reviews": reviews_waiting,
    }
    return render(request, "provider/home.html", who=who, products=mine, counts=counts,
                  waiting=waiting, names=names)


@router.get("/provider/products/new")
def new_product(request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    return render(request, "provider/new.html", who=who, frequencies=forms.FREQUENCIES)


@router.post("/provider/products")
async def create_product(request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    data = forms.product_in(form)
    with ex.transaction() as s:
        product = products.create_product(s, who, data)
        slug = product.slug
    return done(f"/provider/products/{slug}", "prov_created")


@router.get("/provider/usage")
def usage(request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    months = periods.recent_months(utcnow(), MONTHS)
    with ex.read() as s:
        deals = agreements.list_for(s, who, "provider", MAX_LIMIT, None).items
        rights = [entitlements.to_out(s, e)
                  for e in entitlements.list_for(s, who, "provider")]
        used = metering.monthly_totals(s, who, "provider", months)
        revenue = billing.provider_monthly_revenue(s, who, months)
        names = org_names(s, {a.consumer_org_id for a in deals}
                          | {e.consumer_org_id for e in rights})
    labels = [label for label, _, _ in months]
    kinds = sorted({k for per in used.values() for k in per})
    usage_charts = [{"kind": k, "chart": forms.bar_chart(
        [(m[5:], used[m].get(k, 0)) for m in labels])} for k in kinds]
    revenue_charts = [{"key": key, "chart": forms.bar_chart(
        [(m[5:], revenue[m][key]) for m in labels], text=yuan)}
        for key in ("invoiced_fen", "settled_fen")]
    return render(request, "provider/usage.html", who=who, agreements=deals,
                  entitlements=rights, names=names, labels=labels, kinds=kinds, used=used,
                  revenue=revenue, usage_charts=usage_charts, revenue_charts=revenue_charts,
                  quota_kinds=QUOTA_KINDS)


# The product workspace, after /provider/products/new so that "new" is not taken for a slug.
router.include_router(provider_workspace.router)
router.include_router(provider_trade.router)
router.include_router(provider_rights.router)
router.include_router(provider_reviews.router)
