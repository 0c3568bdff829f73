"""Portal operator pages, under /operator: the dashboard, the review queues (registrations,
public-notice objections, listings) and settlements. Every action calls the domain's
service with the signed-in Principal; the domain decides who may do what. Pages answer 404
to anyone who is not the platform operator."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from shugu.api.deps import ExchangeDep
from shugu.billing import counts as billing_counts
from shugu.billing import invoicing
from shugu.billing import service as billing
from shugu.billing.periods import CST
from shugu.db import utcnow
from shugu.errors import InvalidInput, NotFound
from shugu.identity.principal import Principal
from shugu.pagination import decode_token, next_token
from shugu.portal.pages import done, not_found, posted, render, signed_in, whole_number
from shugu.portal.provider_access import org_names
from shugu.review import schemas as review_schemas
from shugu.review import service as review
from shugu.review.models import LISTING_STATUSES
from shugu.rights import documents, pledges, queues, registrations
from shugu.rights import permissions as rights_perm
from shugu.rights import schemas as rights_schemas

router = APIRouter()

PAGE = 50
REG_STATUSES = ("formal_review", "substantive_review", "public_notice", "changes_requested",
                "issued", "refused", "rejected", "withdrawn")
# What the registration service allows the operator at each state (registrations.review,
# refuse, issue, resolve_objection check it again; these only choose which forms to show).
REVIEWABLE = ("formal_review", "substantive_review")


def _operator(ex: ExchangeDep, request: Request) -> Principal:
    """The signed-in operator; the 404 page for anyone else, as if the page did not exist."""
    who = signed_in(ex, request)
    if not who.is_operator:
        raise NotFound("the operator pages are for the platform operator", code="not_found")
    return who


def _int(value: str | None, field: str, *, default: int | None = None) -> int | None:
    return whole_number(value, field, default=default)


def _cutoff(value: str | None, field: str) -> datetime | None:
    """A datetime-local field, read in China Standard Time (UTC+8), as billing counts."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be a date and time (YYYY-MM-DDTHH:MM)",
                           code="invalid_datetime", field=field) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=CST)


def _note(form: dict[str, str]) -> str | None:
    note = form.get("note", "").strip()
    if len(note) > 2000:
        raise InvalidInput("the note is longer than 2000 characters", code="note_too_long")
    return note or None


# -- dashboard ------------------------------------------------------------------------------

@router.get("/operator")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        listings = review.queue(s, who, "in_review", 1, None).total or 0
        regs = queues.counts_by_status(s, who)
        objections = sum(n for _, n in queues.with_open_objections(s, who))
        invoices = billing_counts.invoices_by_status(s, who)
    return render(request, "operator/home.html", who=who, listings=listings, regs=regs,
                  objections=objections, invoices=invoices)


# -- registrations --------------------------------------------------------------------------

@router.get("/operator/registrations")
def registration_list(request: Request, ex: ExchangeDep, status: str = "",
                      page_token: str | None = None) -> Response:
    who = _operator(ex, request)
    if status and status not in (*REG_STATUSES, "draft"):
        raise InvalidInput("unknown registration status", code="invalid_status")
    offset = decode_token(page_token)
    with ex.read() as s:
        rows = registrations.list_for(s, who, notices=False, status=status or None,
                                      offset=offset, limit=PAGE)
        items = [registrations.to_out(s, r) for r in rows[:PAGE]]
        counts = queues.counts_by_status(s, who)
        names = org_names(s, {r.applicant_org_id for r in items})
    return render(request, "operator/registrations.html", who=who, items=items, status=status,
                  names=names,
                  statuses=REG_STATUSES, counts=counts,
                  next_token=next_token(offset, PAGE, len(rows)))


@router.get("/operator/registrations/{registration_id}")
def registration_detail(registration_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        reg = rights_perm.private_registration(s, who, registration_id)
        out = registrations.to_out(s, reg)
        objections = [registrations.objection_out(o)
                      for o in rights_perm.visible_objections(s, who, reg)]
        names = org_names(s, {out.applicant_org_id, *(o.org_id for o in objections)}
                          | ({out.counterparty_org_id} if out.counterparty_org_id else set()))
    notice_over = out.notice_end is not None and utcnow() >= out.notice_end
    return render(request, "operator/registration.html", who=who, reg=out, names=names,
                  objections=objections, reviewable=out.status in REVIEWABLE,
                  in_notice=out.status == "public_notice", notice_over=notice_over,
                  open_objections=any(o.status == "open" for o in objections),
                  upheld=any(o.status == "upheld" for o in objections))


@router.get("/operator/registrations/{registration_id}/documents/{document_id}")
def registration_document(registration_id: int, document_id: int, request: Request,
                          ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        reg = rights_perm.private_registration(s, who, registration_id)
        doc = next((d for d in registrations.to_out(s, reg).documents if d.id == document_id),
                   None)
    if doc is None:
        return not_found(request, who)
    # Always a download, never rendered in the portal's origin (a proof document may be
    # any file the applicant chose, HTML included).
    return FileResponse(documents.path_of(ex.settings, doc.sha256), filename=doc.filename,
                        media_type="application/octet-stream",
                        headers={"X-Content-Type-Options": "nosniff"})


@router.post("/operator/registrations/{registration_id}/review")
async def registration_review(registration_id: int, request: Request,
                              ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    decision = form.get("decision", "")
    if decision not in ("approve", "reject", "request_changes"):
        raise InvalidInput("decision must be approve, reject or request_changes",
                           code="invalid_decision")
    data = rights_schemas.ReviewIn(decision=decision,  # type: ignore[arg-type]
                                   note=_note(form))
    with ex.transaction() as s:
        registrations.review(s, who, registration_id, data, ex.settings.public_notice_seconds)
    return done(f"/operator/registrations/{registration_id}", f"op_reg_{decision}")


@router.post("/operator/registrations/{registration_id}/issue")
async def registration_issue(registration_id: int, request: Request,
                             ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    await posted(request, who)
    with ex.transaction() as s:
        registrations.issue(s, who, registration_id, key=ex.key,
                            validity_days=ex.settings.certificate_validity_days)
    return done(f"/operator/registrations/{registration_id}", "op_reg_issued")


@router.post("/operator/registrations/{registration_id}/refuse")
async def registration_refuse(registration_id: int, request: Request,
                              ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    with ex.transaction() as s:
        registrations.refuse(s, who, registration_id, _note(form))
    return done(f"/operator/registrations/{registration_id}", "op_reg_refused")


@router.post("/operator/objections/{objection_id}/resolve")
async def objection_resolve(objection_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    decision = form.get("decision", "")
    if decision not in ("upheld", "dismissed"):
        raise InvalidInput("decision must be upheld or dismissed", code="invalid_decision")
    data = rights_schemas.ResolveIn(decision=decision,  # type: ignore[arg-type]
                                    note=_note(form))
    with ex.transaction() as s:
        objection = registrations.resolve_objection(s, who, objection_id, data)
        reg_id = objection.registration_id
    return done(f"/operator/registrations/{reg_id}", f"op_objection_{decision}")


@router.get("/operator/objections")
def objection_queue(request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        items = [(registrations.to_out(s, reg), n)
                 for reg, n in queues.with_open_objections(s, who)]
    return render(request, "operator/objections.html", who=who, items=items)


# -- pledges --------------------------------------------------------------------------------

@router.get("/operator/pledges")
def pledge_list(request: Request, ex: ExchangeDep, status: str = "active") -> Response:
    """Every pledge (质押) on every certificate, active first by default; the operator may
    release an active one (rights.pledges.release), as the pledgee may."""
    who = _operator(ex, request)
    if status not in ("active", "released", "enforced", ""):
        raise InvalidInput("status must be active, released or enforced", code="invalid_status")
    with ex.read() as s:
        items = [pledges.to_out(s, p) for p in pledges.list_for(s, who, None)
                 if not status or p.status == status]
        names = org_names(s, {p.pledgor_org_id for p in items}
                          | {p.pledgee_org_id for p in items})
    return render(request, "operator/pledges.html", who=who, items=items, names=names,
                  status=status)


@router.post("/operator/pledges/{pledge_id}/release")
async def pledge_release(pledge_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    with ex.transaction() as s:
        pledges.release(s, who, pledge_id, _note(form))
    return done("/operator/pledges", "op_pledge_released")


# -- listings -------------------------------------------------------------------------------

@router.get("/operator/listings")
def listing_queue(request: Request, ex: ExchangeDep, status: str = "in_review",
                  page_token: str | None = None) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        page = review.queue(s, who, status, PAGE, page_token)
    return render(request, "operator/listings.html", who=who, page=page, status=status,
                  statuses=LISTING_STATUSES)


@router.get("/operator/listings/{listing_id}")
def listing_detail(listing_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        out = review.to_out(s, *review.get(s, listing_id), full=True)
    findings = []
    for table, report in sorted(((out.compliance or {}).get("tables") or {}).items()):
        for column, info in sorted((report.get("columns") or {}).items()):
            for kind, found in sorted((info.get("detections") or {}).items()):
                findings.append({"table": table, "column": column, "kind": kind, **found})
    return render(request, "operator/listing.html", who=who, listing=out, findings=findings,
                  default_split=review_schemas.Split())


@router.post("/operator/listings/{listing_id}/approve")
async def listing_approve(listing_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    default = review_schemas.Split()
    provider_bp = _int(form.get("provider_bp"), "provider_bp", default=default.provider_bp)
    platform_bp = _int(form.get("platform_bp"), "platform_bp", default=default.platform_bp)
    broker_bp = _int(form.get("broker_bp"), "broker_bp", default=0)
    broker = _int(form.get("broker_org_id"), "broker_org_id")
    for name, bp in (("provider_bp", provider_bp), ("platform_bp", platform_bp),
                     ("broker_bp", broker_bp)):
        if bp is None or not 0 <= bp <= 10_000:
            raise InvalidInput(f"{name} must be between 0 and 10000 basis points",
                               code="invalid_split")
    data = review_schemas.ApproveIn(
        split=review_schemas.Split(provider_bp=provider_bp, platform_bp=platform_bp,
                                   broker_bp=broker_bp, broker_org_id=broker),
        note=_note(form))
    with ex.transaction() as s:
        review.approve(s, who, listing_id, data)
    return done(f"/operator/listings/{listing_id}", "op_listing_approved")


@router.post("/operator/listings/{listing_id}/reject")
async def listing_reject(listing_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    reasons = [r.strip()[:2000] for r in form.get("reasons", "").splitlines() if r.strip()]
    if len(reasons) > 50:
        raise InvalidInput("at most 50 reasons", code="too_many_reasons")
    with ex.transaction() as s:
        review.reject(s, who, listing_id,
                      review_schemas.RejectIn(reasons=reasons, note=_note(form)))
    return done(f"/operator/listings/{listing_id}", "op_listing_rejected")


@router.post("/operator/listings/{listing_id}/delist")
async def listing_delist(listing_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    reason = form.get("reason", "")[:2000]
    with ex.transaction() as s:
        _, product = review.get(s, listing_id)
        review.delist(s, who, product.slug, reason)
    return done(f"/operator/listings/{listing_id}", "op_listing_delisted")


# -- billing and settlements ----------------------------------------------------------------

@router.get("/operator/billing")
def billing_home(request: Request, ex: ExchangeDep, status: str = "",
                 page_token: str | None = None) -> Response:
    who = _operator(ex, request)
    if status and status not in ("issued", "settled", "void"):
        raise InvalidInput("status must be issued, settled or void", code="invalid_status")
    with ex.read() as s:
        invoices = billing.list_invoices(s, who, "all", status or None, PAGE, page_token)
        settlements = billing.list_settlements(s, who, 20, None)
        counts = billing_counts.invoices_by_status(s, who)
        names = org_names(s, {i.consumer_org_id for i in invoices.items}
                          | {i.provider_org_id for i in invoices.items})
    return render(request, "operator/billing.html", who=who, invoices=invoices, names=names,
                  settlements=settlements, status=status, counts=counts,
                  issued=request.query_params.get("issued"))


@router.post("/operator/billing/run")
async def billing_run(request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    until = _cutoff(form.get("until"), "until")
    with ex.transaction() as s:
        issued = invoicing.run(s, who, until)
    return done("/operator/billing", "op_billing_run", issued=len(issued))


@router.post("/operator/billing/settle")
async def billing_settle(request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    form = await posted(request, who)
    until = _cutoff(form.get("until"), "until")
    with ex.transaction() as s:
        number = billing.settle(s, who, ex, until).number
    return done(f"/operator/settlements/{number}", "op_settled")


@router.get("/operator/settlements/{number}")
def settlement_detail(number: str, request: Request, ex: ExchangeDep) -> Response:
    who = _operator(ex, request)
    with ex.read() as s:
        out = billing.settlement_out(s, billing.get_settlement(s, who, number))
    return render(request, "operator/settlement.html", who=who, stl=out)
