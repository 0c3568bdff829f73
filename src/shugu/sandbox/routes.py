"""REST endpoints of the sandbox: analysis rules, queries and results, private tables."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.catalog import uploads
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.sandbox import private, rules, schemas, service
from shugu.sandbox.models import SandboxQuery

router = APIRouter(tags=["sandbox"])
NAME = r"^[a-z_][a-z0-9_]{0,62}$"


@router.put("/products/{slug}/tables/{table}/analysis-rules", response_model=schemas.RulesOut)
def set_rules(slug: str, table: str, body: schemas.RulesIn, ex: ExchangeDep,
              who: PrincipalDep) -> schemas.RulesOut:
    """Set a table's analysis rules (a new version each time)."""
    with ex.transaction() as s:
        row = rules.set_rules(s, who, slug, table, body)
        product, data_table, row = rules.get_rules(s, who, slug, table, row.version)
        return rules.to_out(product, data_table, row)


@router.get("/products/{slug}/tables/{table}/analysis-rules", response_model=schemas.RulesOut)
def get_rules(slug: str, table: str, ex: ExchangeDep, who: PrincipalDep,
              version: int | None = None) -> schemas.RulesOut:
    with ex.read() as s:
        return rules.to_out(*rules.get_rules(s, who, slug, table, version))


def _out(q: SandboxQuery) -> schemas.QueryOut:
    return schemas.QueryOut.model_validate(q)


def _result(ex: ExchangeDep, q: SandboxQuery) -> schemas.QueryResult:
    table = service.result(ex, q)
    rows = [list(r.values()) for r in table.to_pylist()]
    return schemas.QueryResult(query=_out(q), columns=table.column_names,
                               rows=jsonable_encoder(rows))


@router.post("/sandbox/queries", response_model=schemas.QueryResult,
             status_code=status.HTTP_201_CREATED)
def run_query(body: schemas.QueryIn, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryResult:
    """Run an aggregate query over entitled product tables (and your own mine.* tables)."""
    return _result(ex, service.run(ex, who, body.sql))


@router.get("/sandbox/queries", response_model=Page[schemas.QueryOut])
def list_queries(ex: ExchangeDep, who: PrincipalDep, limit: int | None = None,
                 page_token: str | None = None) -> Page[schemas.QueryOut]:
    """Your organisation's queries, newest first (refusals included)."""
    n, offset = check_limit(limit), decode_token(page_token)
    with ex.read() as s:
        rows = service.list_queries(s, who, offset, n)
    return Page[schemas.QueryOut](items=[_out(q) for q in rows[:n]],
                                  next_page_token=next_token(offset, n, len(rows)))


@router.get("/sandbox/queries/{query_id}", response_model=schemas.QueryOut)
def get_query(query_id: int, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryOut:
    with ex.read() as s:
        return _out(service.get(s, who, query_id))


@router.get("/sandbox/queries/{query_id}/result", response_model=schemas.QueryResult)
def get_result(query_id: int, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryResult:
    with ex.read() as s:
        q = service.get(s, who, query_id)
    return _result(ex, q)


@router.put("/sandbox/tables/{name}", response_model=schemas.PrivateTableOut,
            status_code=status.HTTP_201_CREATED,
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_private(name: str, request: Request, ex: ExchangeDep, who: PrincipalDep,
                         format: Literal["auto", "csv", "parquet"] = "auto",
                         ) -> schemas.PrivateTableOut:
    """Upload your own table (CSV or Parquet) into your sandbox space as mine.<name>."""
    import re

    from shugu.errors import InvalidInput

    if not re.match(NAME, name):
        raise InvalidInput("table names are lower-case identifiers", code="invalid_name")
    who.require_role("consumer")
    path = await uploads.receive(request.stream(), ex.settings.uploads_dir,
                                 ex.settings.max_upload_bytes, None)
    try:
        row = await run_in_threadpool(private.upload, ex, who, name, path, format)
    finally:
        uploads.discard(path)
    return schemas.PrivateTableOut.model_validate(row)


@router.get("/sandbox/tables", response_model=list[schemas.PrivateTableOut])
def list_private(ex: ExchangeDep, who: PrincipalDep) -> list[schemas.PrivateTableOut]:
    with ex.read() as s:
        return [schemas.PrivateTableOut.model_validate(r) for r in private.list_own(s, who)]


@router.delete("/sandbox/tables/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_private(name: str, ex: ExchangeDep, who: PrincipalDep) -> None:
    private.delete(ex, who, name)
