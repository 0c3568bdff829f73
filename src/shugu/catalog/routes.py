"""REST endpoints of the catalog: products, tables, ingestion, revisions, search."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from shugu.api.deps import ExchangeDep, PrincipalDep, ViewerDep
from shugu.api.limits import IdFilter, Limit, Number, PageToken, QueryText, SearchText
from shugu.catalog import products, schemas, search, uploads
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.catalog.permissions import owned_table
from shugu.pagination import Page

router = APIRouter(tags=["catalog"])


@router.post("/products", response_model=schemas.ProductOut, status_code=status.HTTP_201_CREATED)
def create_product(
    body: schemas.ProductIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.ProductOut:
    with ex.transaction() as s:
        return products.product_out(s, products.create_product(s, who, body))


@router.get("/products", response_model=Page[schemas.ProductOut])
def list_products(
    ex: ExchangeDep, who: ViewerDep, provider_org_id: IdFilter = None,
    limit: Limit = None, page_token: PageToken = None,
) -> Page[schemas.ProductOut]:
    with ex.read() as s:
        return products.list_products(s, who, provider_org_id, limit, page_token)


@router.get("/products/{slug}", response_model=schemas.ProductOut)
def get_product(slug: str, ex: ExchangeDep, who: ViewerDep) -> schemas.ProductOut:
    """Listed products are public (no token needed); others only to their provider and
    operators, and 404 to anyone else."""
    with ex.read() as s:
        return products.product_out(s, products.get_product(s, who, slug))


@router.patch("/products/{slug}", response_model=schemas.ProductOut)
def update_product(
    slug: str, body: schemas.ProductPatch, ex: ExchangeDep, who: PrincipalDep
) -> schemas.ProductOut:
    with ex.transaction() as s:
        return products.product_out(s, products.update_product(s, who, slug, body))


@router.post("/products/{slug}/tables", response_model=schemas.TableOut,
             status_code=status.HTTP_201_CREATED)
def create_table(
    slug: str, body: schemas.TableIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.TableOut:
    with ex.transaction() as s:
        return products.table_out(products.create_table(s, who, slug, body))


@router.put("/products/{slug}/tables/{table}/data", response_model=schemas.IngestOut,
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def ingest(
    slug: str, table: str, request: Request, ex: ExchangeDep, who: PrincipalDep,
    mode: Literal["append", "overwrite"] = "append",
    format: Literal["auto", "csv", "parquet", "arrow"] = "auto",
    encoding: QueryText = None, delimiter: QueryText = None, header: bool | None = None,
    filename: QueryText = None,
    null_values: list[Annotated[str, Field(max_length=100)]] | None = Query(
        None, description="CSV cells read as null (repeat the parameter); default: the "
        "empty cell only. Pass an empty value to keep it in the list."),
) -> schemas.IngestOut:
    """Upload a CSV, Parquet or Arrow IPC file as the body; it becomes a new Delta version."""
    options = IngestOptions(format=format, encoding=encoding, delimiter=delimiter, header=header,
                            null_values=null_values).checked()  # refused before the upload
    with ex.read() as s:  # refuse before accepting gigabytes from someone else
        owned_table(s, who, slug, table)
    path = await uploads.receive_request(request, ex.settings.uploads_dir,
                                         ex.settings.max_upload_bytes)
    try:
        return await run_in_threadpool(ingest_file, ex, who, slug, table, path, mode=mode,
                                       options=options, source_name=filename)
    finally:
        uploads.discard(path)


@router.post("/products/{slug}/revisions", response_model=schemas.RevisionOut,
             status_code=status.HTTP_201_CREATED)
def publish_revision(
    slug: str, body: schemas.RevisionIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.RevisionOut:
    with ex.transaction() as s:
        return schemas.RevisionOut.model_validate(products.publish_revision(s, who, slug, body))


@router.get("/products/{slug}/revisions", response_model=list[schemas.RevisionOut])
def list_revisions(slug: str, ex: ExchangeDep, who: PrincipalDep) -> list[schemas.RevisionOut]:
    with ex.read() as s:
        revisions = products.list_revisions(s, who, slug)
        return [schemas.RevisionOut.model_validate(r) for r in revisions]


@router.get("/products/{slug}/revisions/{number}", response_model=schemas.RevisionOut)
def get_revision(
    slug: str, number: Number, ex: ExchangeDep, who: PrincipalDep
) -> schemas.RevisionOut:
    with ex.read() as s:
        return schemas.RevisionOut.model_validate(products.get_revision(s, who, slug, number))


@router.post("/products/{slug}/revisions/{number}/revoke", response_model=schemas.RevisionOut)
def revoke_revision(
    slug: str, number: Number, body: schemas.RevokeIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.RevisionOut:
    with ex.transaction() as s:
        revision = products.revoke_revision(s, who, slug, number, body.reason)
        return schemas.RevisionOut.model_validate(revision)


@router.get("/search", response_model=Page[schemas.ProductHit])
def search_products(
    ex: ExchangeDep, who: ViewerDep, q: SearchText = "", provider_org_id: IdFilter = None,
    category: QueryText = None, tag: QueryText = None, limit: Limit = None,
    page_token: PageToken = None,
) -> Page[schemas.ProductHit]:
    """Search the listed products (public: no token needed)."""
    with ex.read() as s:
        return search.search(s, q=q, provider_org_id=provider_org_id, category=category,
                             tag=tag, limit=limit, page_token=page_token)
