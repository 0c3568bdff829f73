"""The provider's product workspace, first half: data (tables and uploads), revisions,
registration applications and the listing review. Offers, negotiations and analysis rules
are in provider_trade.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from shugu.api.deps import ExchangeDep
from shugu.catalog import products, uploads
from shugu.catalog import schemas as catalog
from shugu.catalog.ingest.errors import StorageInconsistent
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.catalog.permissions import find_table
from shugu.errors import InvalidInput, NotFound, ShuguError
from shugu.identity.principal import Principal
from shugu.portal import provider_forms as forms
from shugu.portal import provider_rights
from shugu.portal import session as sessions
from shugu.portal.pages import csrf_header_ok, done, posted, render
from shugu.portal.provider_access import org_names, own_product, provider_of
from shugu.review import service as review
from shugu.rights import certificates, documents, fingerprints, html, registrations
from shugu.rights import fingerprint as fp
from shugu.rights import permissions as rights_perm
from shugu.rights.models import RIGHTS
from shugu.runtime import Exchange

router = APIRouter()
TABS = ("data", "revisions", "registrations", "listing", "offers", "rules", "reviews")
FORMATS = ("csv", "parquet", "auto")


def base(who: Principal, ex: Exchange, slug: str) -> catalog.ProductOut:
    with ex.read() as s:
        return products.product_out(s, own_product(s, who, slug))


def workspace(request: Request, who: Principal, product: catalog.ProductOut, tab: str,
              **context: Any) -> HTMLResponse:
    return render(request, f"provider/{tab}.html", who=who, product=product, tab=tab,
                  tabs=TABS, **context)


def _path(slug: str, tab: str = "") -> str:
    return f"/provider/products/{slug}" + (f"/{tab}" if tab else "")


# -- data: tables and uploads --------------------------------------------------------------

@router.get("/provider/products/{slug}")
def data(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    product = base(who, ex, slug)
    return workspace(request, who, product, "data", formats=FORMATS,
                     max_bytes=ex.settings.max_upload_bytes)


@router.post("/provider/products/{slug}/tables")
async def add_table(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    data = forms.table_in(form)
    with ex.transaction() as s:
        own_product(s, who, slug)
        products.create_table(s, who, slug, data)
    return done(_path(slug), "prov_table_added")


class _Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _json_error(exc: ShuguError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


def _script_caller(ex: Exchange, request: Request) -> Principal:
    """A script upload's caller: signed in, the CSRF header right, a provider; answers JSON."""
    who = sessions.principal(ex, request)
    if who is None:
        raise _Refused(JSONResponse({"error": {"code": "unauthenticated",
                                               "message": "sign in again"}}, status_code=401))
    if not csrf_header_ok(request):
        raise _Refused(JSONResponse({"error": {"code": "csrf_failed",
                                               "message": "the page has expired; reload it"}},
                                    status_code=403))
    if "provider" not in who.org_roles:
        raise _Refused(_json_error(NotFound("no such page", code="not_found")))
    return who


@router.post("/provider/products/{slug}/tables/{table}/data")
async def upload(slug: str, table: str, request: Request, ex: ExchangeDep,
                 format: str = "auto", mode: str = "append",
                 filename: str | None = None) -> Response:
    """The upload progress bar's target: the file as the raw body (XMLHttpRequest), the
    CSRF token in X-CSRF-Token; the same body limit and ingest service as the API's
    PUT .../data. Answers JSON (the new version, rows) for the page's script."""
    try:
        who = _script_caller(ex, request)
    except _Refused as refused:
        return refused.response
    try:
        if format not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}",
                               code="invalid_format")
        with ex.read() as s:  # refuse before accepting the body from someone else
            product = own_product(s, who, slug)
            find_table(s, product, table)
        path = await uploads.receive_request(request, ex.settings.uploads_dir,
                                             ex.settings.max_upload_bytes)
        try:
            out = await run_in_threadpool(
                ingest_file, ex, who, slug, table, path, mode=mode,  # type: ignore[arg-type]
                options=IngestOptions(format=format),  # type: ignore[arg-type]
                source_name=filename)
        finally:
            uploads.discard(path)
    except ShuguError as exc:
        return _json_error(exc)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


# -- revisions ------------------------------------------------------------------------------

@router.get("/provider/products/{slug}/revisions")
def revisions(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        rows = []
        for r in reversed(products.list_revisions(s, who, slug)):
            found = fingerprints.existing(s, r)
            rows.append({"revision": catalog.RevisionOut.model_validate(r),
                         "fingerprint": found.root if found else None})
    return workspace(request, who, out, "revisions", revisions=rows)


@router.post("/provider/products/{slug}/revisions")
async def publish(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    with ex.transaction() as s:
        product = own_product(s, who, slug)
        chosen = [t.name for t in product.tables if form.get(f"table_{t.name}")]
        data = forms.validated(catalog.RevisionIn, {
            "name": form.get("name", "").strip(), "note": form.get("note", "").strip() or None,
            "tables": chosen or None})
        products.publish_revision(s, who, slug, data)
    return done(_path(slug, "revisions"), "prov_revision")


@router.post("/provider/products/{slug}/revisions/{number}/revoke")
async def revoke(slug: str, number: int, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    reason = form.get("reason", "").strip()
    if not reason:
        raise InvalidInput("revoking a revision needs a reason", code="reason_required")
    with ex.transaction() as s:
        own_product(s, who, slug)
        products.revoke_revision(s, who, slug, number, reason)
    return done(_path(slug, "revisions"), "prov_revoked")


@router.post("/provider/products/{slug}/revisions/{number}/fingerprint")
async def fingerprint(slug: str, number: int, request: Request, ex: ExchangeDep) -> Response:
    """存证: hash the revision's files (outside any transaction) and record the root, as
    POST /api/v1/products/{slug}/revisions/{number}/fingerprint does."""
    who = provider_of(ex, request)
    await posted(request, who)
    with ex.read() as s:
        own_product(s, who, slug)
        found, tables = fingerprints.plan(s, who, ex.settings.tables_dir, slug, number)
    if found is None:
        try:
            result = await run_in_threadpool(fp.compute, tables)
        except fp.FingerprintError as exc:
            raise StorageInconsistent(str(exc)) from exc
        with ex.transaction() as s:
            fingerprints.record(s, who, slug, number, result)
    return done(_path(slug, "revisions"), "prov_fingerprinted")


# -- registration applications ----------------------------------------------------------------

@router.get("/provider/products/{slug}/registrations")
def registration_list(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        mine = [registrations.to_out(s, r) for r in registrations.list_for(
            s, who, notices=False, status=None, offset=0, limit=500)
            if r.product_id == product.id]
        fingerprinted = [r.number for r in products.list_revisions(s, who, slug)
                         if r.status == "published" and fingerprints.existing(s, r)]
        held = provider_rights.held(s, who, product)
        names = org_names(s, {r.counterparty_org_id for r in mine if r.counterparty_org_id})
    return workspace(request, who, out, "registrations", registrations=list(reversed(mine)),
                     fingerprinted=list(reversed(fingerprinted)), rights=RIGHTS,
                     editable=registrations.EDITABLE, held=held, names=names)


@router.post("/provider/products/{slug}/registrations")
async def registration_create(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    data = forms.registration_in(slug, form)
    with ex.transaction() as s:
        own_product(s, who, slug)
        registrations.create(s, who, data)
    return done(_path(slug, "registrations"), "prov_registration")


def _own_registration(ex: Exchange, who: Principal, slug: str, registration_id: int) -> None:
    with ex.read() as s:
        product = own_product(s, who, slug)
        reg = rights_perm.private_registration(s, who, registration_id)
        if reg.product_id != product.id or reg.applicant_org_id != who.org_id:
            raise NotFound(f"registration {registration_id} does not exist",
                           code="registration_not_found")


async def _registration_step(slug: str, registration_id: int, step: str,
                             request: Request, ex: Exchange) -> Response:
    who = provider_of(ex, request)
    await posted(request, who)
    _own_registration(ex, who, slug, registration_id)
    with ex.transaction() as s:
        if step == "submit":
            registrations.submit(s, who, registration_id)
        else:
            registrations.withdraw(s, who, registration_id)
    return done(_path(slug, "registrations"), f"prov_registration_{step}")


@router.post("/provider/products/{slug}/registrations/{registration_id}/submit")
async def registration_submit(slug: str, registration_id: int, request: Request,
                              ex: ExchangeDep) -> Response:
    return await _registration_step(slug, registration_id, "submit", request, ex)


@router.post("/provider/products/{slug}/registrations/{registration_id}/withdraw")
async def registration_withdraw(slug: str, registration_id: int, request: Request,
                                ex: ExchangeDep) -> Response:
    return await _registration_step(slug, registration_id, "withdraw", request, ex)


class _DocumentOut(BaseModel):
    id: int
    filename: str
    size: int
    sha256: str


@router.post("/provider/products/{slug}/registrations/{registration_id}/documents")
async def registration_document(slug: str, registration_id: int, request: Request,
                                ex: ExchangeDep, filename: str = "proof",
                                description: str | None = None) -> Response:
    """A proof document as the raw body (the same script as data uploads); stored
    content-addressed and recorded as POST /api/v1/registrations/{id}/documents does."""
    try:
        who = _script_caller(ex, request)
    except _Refused as refused:
        return refused.response
    try:
        _own_registration(ex, who, slug, registration_id)
        with ex.read() as s:
            reg = rights_perm.applicant_registration(s, who, registration_id)
            registrations.expect_state(reg, registrations.EDITABLE, "given documents")
        path = await uploads.receive_request(request, ex.settings.uploads_dir,
                                             ex.settings.max_upload_bytes)
        try:
            sha, size = await run_in_threadpool(documents.store, ex.settings, path)
        finally:
            uploads.discard(path)
        content_type = (request.headers.get("content-type") or "application/octet-stream")

        def record() -> _DocumentOut:
            with ex.transaction() as s:
                doc = registrations.add_document(
                    s, who, registration_id, filename=filename[:300],
                    description=description, content_type=content_type[:100], size=size,
                    sha256=sha)
                return _DocumentOut(id=doc.id, filename=doc.filename, size=doc.size,
                                    sha256=doc.sha256)

        out = await run_in_threadpool(record)
    except ShuguError as exc:
        return _json_error(exc)
    return JSONResponse(out.model_dump(), status_code=201)


@router.get("/provider/certificates/{number}")
def certificate(number: str, request: Request, ex: ExchangeDep) -> Response:
    """The printable certificate (rights.html); certificates are public facts to any
    signed-in organisation, as on the API."""
    provider_of(ex, request)
    with ex.read() as s:
        cert = rights_perm.find_certificate(s, number)
        return HTMLResponse(html.render(certificates.file_of(cert),
                                        certificates.current_status(s, cert)))


# -- listing ----------------------------------------------------------------------------------

@router.get("/provider/products/{slug}/listing")
def listing(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    with ex.read() as s:
        product = own_product(s, who, slug)
        out = products.product_out(s, product)
        try:
            current = review.product_listing(s, who, slug)
        except NotFound:
            current = None
    return workspace(request, who, out, "listing", listing=current,
                     submittable=out.status in review.SUBMITTABLE)


@router.post("/provider/products/{slug}/listing")
async def submit_listing(slug: str, request: Request, ex: ExchangeDep) -> Response:
    """Scan and assess every table (can take a while: in a worker thread), then record."""
    who = provider_of(ex, request)
    await posted(request, who)
    base(who, ex, slug)
    await run_in_threadpool(review.submit, ex, who, slug)
    return done(_path(slug, "listing"), "prov_submitted")


@router.post("/provider/products/{slug}/sample")
async def set_sample(slug: str, request: Request, ex: ExchangeDep) -> Response:
    """How many rows others may preview (shown only when review found no personal data)."""
    who = provider_of(ex, request)
    form = await posted(request, who)
    patch = forms.validated(catalog.ProductPatch,
                      {"sample_rows": form.get("sample_rows", "").strip() or 0})
    with ex.transaction() as s:
        own_product(s, who, slug)
        products.update_product(s, who, slug, patch)
    return done(_path(slug, "listing"), "prov_sample_saved")


@router.post("/provider/products/{slug}/delist")
async def delist(slug: str, request: Request, ex: ExchangeDep) -> Response:
    who = provider_of(ex, request)
    form = await posted(request, who)
    with ex.transaction() as s:
        own_product(s, who, slug)
        review.delist(s, who, slug, form.get("reason", ""))
    return done(_path(slug, "listing"), "prov_delisted")
