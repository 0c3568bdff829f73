"""The consumer's invoices (/consumer/invoices) and the vouchers of settled ones, with the
voucher's evidence bundle as a download for `shugu voucher verify`."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.billing import permissions, service
from shugu.errors import InvalidInput
from shugu.portal import i18n
from shugu.portal.consumer_common import member, org_name, product_title
from shugu.portal.pages import render

router = APIRouter()
PAGE = 20
STATUSES = ("issued", "settled", "void")


@router.get("/consumer/invoices")
def invoices_page(request: Request, ex: ExchangeDep, status: str = "",
                  page_token: str | None = None) -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    if status and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}",
                           code="invalid_status")
    with ex.read() as s:
        page = service.list_invoices(s, who, "consumer", status or None, PAGE, page_token)
        titles = {i.product: product_title(s, i.product, lang) for i in page.items}
    return render(request, "consumer/invoices.html", who=who, page=page, status=status,
                  statuses=STATUSES, titles=titles)


@router.get("/consumer/invoices/{number}")
def invoice_page(number: str, request: Request, ex: ExchangeDep) -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    with ex.read() as s:
        invoice = service.invoice_out(s, permissions.visible_invoice(s, who, number))
        voucher = service.voucher_out(s, permissions.visible_voucher(s, who, invoice.voucher)) \
            if invoice.voucher else None
        title = product_title(s, invoice.product, lang)
        provider = org_name(s, invoice.provider_org_id, lang)
    return render(request, "consumer/invoice.html", who=who, invoice=invoice, voucher=voucher,
                  title=title, provider=provider, public_key=ex.key.public_b64)


@router.get("/consumer/vouchers/{number}/evidence")
def voucher_evidence(number: str, request: Request, ex: ExchangeDep) -> Response:
    """The same bundle as GET /api/v1/vouchers/{number}/evidence, as a file."""
    who = member(ex, request)
    bundle = service.evidence(ex, who, number)
    return Response(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n",
                    media_type="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="voucher-{number}.json"'})
