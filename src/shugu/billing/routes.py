"""REST endpoints of billing: runs, invoices, settlements, vouchers and the cost export."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Response, status
from pydantic import AwareDatetime

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import Limit, PageToken
from shugu.api.openapi import CSVResponse
from shugu.billing import export, invoicing, permissions, service, voucher_check
from shugu.billing import schemas as s
from shugu.pagination import Page

router = APIRouter(tags=["billing"])
Role = Literal["consumer", "provider", "all"]


@router.post("/billing/runs", response_model=list[s.InvoiceOut],
             status_code=status.HTTP_201_CREATED)
def run_billing(body: s.BillingRunIn, ex: ExchangeDep, who: PrincipalDep) -> list[s.InvoiceOut]:
    """Operators: invoice every agreement up to the cut-off (idempotent: what is billed
    once is not billed again)."""
    with ex.transaction() as session:
        issued = invoicing.run(session, who, body.until)
        return [service.invoice_out(session, i) for i in issued]


@router.get("/invoices", response_model=Page[s.InvoiceOut])
def list_invoices(ex: ExchangeDep, who: PrincipalDep, role: Role = "consumer",
                  status: Literal["issued", "settled", "void"] | None = None,
                  limit: Limit = None, page_token: PageToken = None
                  ) -> Page[s.InvoiceOut]:
    with ex.read() as session:
        return service.list_invoices(session, who, role, status, limit, page_token)


@router.get("/invoices/{number}", response_model=s.InvoiceOut)
def get_invoice(number: str, ex: ExchangeDep, who: PrincipalDep) -> s.InvoiceOut:
    with ex.read() as session:
        return service.invoice_out(session, permissions.visible_invoice(session, who, number))


@router.post("/invoices/{number}/void", response_model=s.InvoiceOut)
def void_invoice(number: str, body: s.VoidIn, ex: ExchangeDep,
                 who: PrincipalDep) -> s.InvoiceOut:
    with ex.transaction() as session:
        invoice = permissions.visible_invoice(session, who, number)
        return service.invoice_out(session, invoicing.void(session, who, invoice, body.reason))


@router.post("/settlements", response_model=s.SettlementOut,
             status_code=status.HTTP_201_CREATED)
def settle(body: s.SettleIn, ex: ExchangeDep, who: PrincipalDep) -> s.SettlementOut:
    """Operators: split every issued invoice and issue a voucher per settled trade."""
    with ex.transaction() as session:
        return service.settlement_out(session, service.settle(session, who, ex, body.until))


@router.get("/settlements", response_model=Page[s.SettlementOut])
def list_settlements(ex: ExchangeDep, who: PrincipalDep, limit: Limit = None,
                     page_token: PageToken = None) -> Page[s.SettlementOut]:
    with ex.read() as session:
        return service.list_settlements(session, who, limit, page_token)


@router.get("/settlements/{number}", response_model=s.SettlementOut)
def get_settlement(number: str, ex: ExchangeDep, who: PrincipalDep) -> s.SettlementOut:
    with ex.read() as session:
        return service.settlement_out(session, service.get_settlement(session, who, number))


@router.get("/vouchers", response_model=Page[s.VoucherOut])
def list_vouchers(ex: ExchangeDep, who: PrincipalDep, role: Role = "consumer",
                  limit: Limit = None, page_token: PageToken = None
                  ) -> Page[s.VoucherOut]:
    with ex.read() as session:
        return service.list_vouchers(session, who, role, limit, page_token)


@router.get("/vouchers/{number}", response_model=s.VoucherOut)
def get_voucher(number: str, ex: ExchangeDep, who: PrincipalDep) -> s.VoucherOut:
    with ex.read() as session:
        return service.voucher_out(session, permissions.visible_voucher(session, who, number))


@router.get("/vouchers/{number}/evidence")
def voucher_evidence(number: str, ex: ExchangeDep, who: PrincipalDep) -> dict[str, Any]:
    """The voucher with the ledger events behind it, their inclusion proofs and a signed
    tree head: `shugu voucher verify` checks it offline."""
    return service.evidence(ex, who, number)


@router.post("/vouchers/verify", response_model=s.VoucherReportOut)
def verify_voucher(ex: ExchangeDep, who: PrincipalDep,
                   bundle: dict[str, Any] = Body(...)) -> s.VoucherReportOut:
    """Check an evidence bundle with this platform's key pinned."""
    report = voucher_check.verify(bundle, ex.key.public_b64)
    return s.VoucherReportOut(number=report.number, ok=report.ok,
                              checks=[s.CheckOut(**c.__dict__) for c in report.checks])


@router.get("/billing/cost-items.csv", response_class=CSVResponse)
def cost_items(ex: ExchangeDep, who: PrincipalDep, start: AwareDatetime | None = None,
               end: AwareDatetime | None = None) -> Response:
    """The caller's organisation's cost items as a buyer (for 数据资产入表)."""
    with ex.read() as session:
        text = export.to_csv(export.cost_rows(session, who, start, end))
    return CSVResponse(content=text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="cost-items.csv"'})
