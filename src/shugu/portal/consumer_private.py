"""The consumer's own data and reviewed queries in the sandbox (原始数据不出域):

- its private tables (mine.<name>): uploaded by the page's script as the raw body, through
  the same size limit and the same service as the API's PUT /sandbox/tables/{name}
  (catalog.uploads, sandbox.private.upload), and deleted through sandbox.private.delete;
  both are ledger events. No provider ever sees these tables.
- reviewed custom queries: a query refused only because its table is in "templates" mode
  may be sent to the provider for review (sandbox.templates.submit_review); an approved
  review runs once (sandbox.templates.run_review), like POST /sandbox/reviews/{id}/run.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from shugu.api.deps import ExchangeDep
from shugu.catalog import uploads
from shugu.errors import InvalidInput, NotFound, ShuguError
from shugu.identity.principal import Principal
from shugu.portal import session as sessions
from shugu.portal.consumer_common import ident, member, validated
from shugu.portal.consumer_sandbox import after_run, remaining
from shugu.portal.pages import csrf_header_ok, done, posted
from shugu.runtime import Exchange
from shugu.sandbox import private, schemas, templates
from shugu.sandbox.routes import NAME

router = APIRouter()
FORMATS = ("auto", "csv", "parquet")


def _json_error(exc: ShuguError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


def _script_caller(ex: Exchange, request: Request) -> Principal | JSONResponse:
    """The upload script's caller: signed in, the X-CSRF-Token right, a consumer (the 404
    answer otherwise, as for every consumer page). Answers JSON, not pages."""
    who = sessions.principal(ex, request)
    if who is None:
        return JSONResponse({"error": {"code": "unauthenticated", "message": "sign in again"}},
                            status_code=401)
    if not csrf_header_ok(request):
        return JSONResponse({"error": {"code": "csrf_failed",
                                       "message": "the page has expired; reload it"}},
                            status_code=403)
    if "consumer" not in who.org_roles:
        return _json_error(NotFound("no such page", code="not_found"))
    return who


@router.post("/consumer/sandbox/tables")
async def upload_table(request: Request, ex: ExchangeDep, name: str = "",
                       format: str = "auto") -> Response:
    """The upload progress bar's target: the file as the raw body (XMLHttpRequest), the
    CSRF token in X-CSRF-Token. Answers JSON (the new table) for the page's script."""
    who = _script_caller(ex, request)
    if isinstance(who, JSONResponse):
        return who
    try:
        # Refuse a bad name or format before accepting the body, as the API does.
        if not re.match(NAME, name):
            raise InvalidInput("table names are lower-case identifiers", code="invalid_name")
        if format not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}",
                               code="invalid_format")
        path = await uploads.receive_request(request, ex.settings.uploads_dir,
                                             ex.settings.max_upload_bytes)
        try:
            row = await run_in_threadpool(private.upload, ex, who, name, path, format)
        finally:
            uploads.discard(path)
    except ShuguError as exc:
        return _json_error(exc)
    out = schemas.PrivateTableOut.model_validate(row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.post("/consumer/sandbox/tables/{name}/delete")
async def delete_table(name: str, request: Request, ex: ExchangeDep) -> Response:
    who = member(ex, request)
    await posted(request, who)
    await run_in_threadpool(private.delete, ex, who, name)  # 404 for a name not its own
    return done("/consumer/sandbox", "cons_table_deleted", table=name)


@router.post("/consumer/sandbox/reviews")
async def submit_review(request: Request, ex: ExchangeDep) -> Response:
    """Ask the provider to review the SQL of a refused query (POST /sandbox/reviews)."""
    who = member(ex, request)
    form = await posted(request, who)
    body = validated(schemas.ReviewIn, product=form.get("product", ""),
                     sql=form.get("sql", ""), note=form.get("note", "").strip() or None)
    with ex.transaction() as s:
        review = templates.submit_review(s, who, body)
        review_id = review.id
    return done("/consumer/sandbox", "cons_review_submitted", review=review_id)


@router.post("/consumer/sandbox/reviews/{raw_review_id}/run")
async def run_review(raw_review_id: str, request: Request, ex: ExchangeDep) -> Response:
    """Run an approved review once; the answer (or refusal) is shown like any query."""
    review_id = ident(raw_review_id)
    who = member(ex, request)
    form = await posted(request, who)
    slug = form.get("product", "")
    before = remaining(ex, who, slug)
    return await run_in_threadpool(after_run, ex, who, slug, before, templates.run_review,
                                   review_id)
