"""REST endpoints of the sandbox: analysis rules, queries and results, private tables."""

from __future__ import annotations

import re
from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import Id, Limit, PageToken, RulesVersion
from shugu.catalog import uploads
from shugu.entitlements import service as entitlements
from shugu.errors import InvalidInput
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.sandbox import private, rules, schemas, service, templates
from shugu.sandbox.dp import budget
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
              version: RulesVersion = None) -> schemas.RulesOut:
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
    return _result(ex, service.run(ex, who, body.sql, epsilon=body.epsilon,
                                   accuracy=_accuracy(body)))


def _accuracy(body: schemas.QueryIn) -> tuple[float, float] | None:
    return None if body.accuracy is None else (body.accuracy.margin, body.accuracy.confidence)


@router.post("/sandbox/estimate", response_model=schemas.EstimateOut)
def estimate(body: schemas.QueryIn, ex: ExchangeDep, who: PrincipalDep) -> schemas.EstimateOut:
    """What a differentially private query would spend (ε) and its ± at 95 %, or the ε that
    gives the accuracy asked for — without running it or spending anything."""
    return schemas.EstimateOut.model_validate(service.estimate_query(
        ex, who, body.sql, epsilon=body.epsilon, accuracy=_accuracy(body)))


@router.get("/sandbox/queries", response_model=Page[schemas.QueryOut])
def list_queries(ex: ExchangeDep, who: PrincipalDep, limit: Limit = None,
                 page_token: PageToken = None) -> Page[schemas.QueryOut]:
    """Your organisation's queries, newest first (refusals included)."""
    n, offset = check_limit(limit), decode_token(page_token)
    with ex.read() as s:
        rows = service.list_queries(s, who, offset, n)
    return Page[schemas.QueryOut](items=[_out(q) for q in rows[:n]],
                                  next_page_token=next_token(offset, n, len(rows)))


@router.get("/sandbox/queries/{query_id}", response_model=schemas.QueryOut)
def get_query(query_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryOut:
    with ex.read() as s:
        return _out(service.get(s, who, query_id))


@router.get("/sandbox/queries/{query_id}/result", response_model=schemas.QueryResult)
def get_result(query_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryResult:
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


# -- templates and reviewed queries -----------------------------------------------------------

@router.post("/products/{slug}/templates", response_model=schemas.TemplateOut,
             status_code=status.HTTP_201_CREATED)
def create_template(slug: str, body: schemas.TemplateIn, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.TemplateOut:
    """As the provider, publish a parametrised query (`:name` placeholders)."""
    with ex.transaction() as s:
        return templates.template_out(s, templates.create_template(s, who, slug, body))


@router.get("/products/{slug}/templates", response_model=list[schemas.TemplateOut])
def list_templates(slug: str, ex: ExchangeDep, who: PrincipalDep) -> list[schemas.TemplateOut]:
    with ex.read() as s:
        return [templates.template_out(s, t) for t in templates.list_templates(s, who, slug)]


@router.post("/sandbox/templates/{template_id}/run", response_model=schemas.QueryResult,
             status_code=status.HTTP_201_CREATED)
def run_template(template_id: Id, body: schemas.TemplateRunIn, ex: ExchangeDep,
                 who: PrincipalDep) -> schemas.QueryResult:
    return _result(ex, templates.run_template(ex, who, template_id, body.parameters))


@router.post("/sandbox/reviews", response_model=schemas.ReviewOut,
             status_code=status.HTTP_201_CREATED)
def submit_review(body: schemas.ReviewIn, ex: ExchangeDep, who: PrincipalDep) -> schemas.ReviewOut:
    """Ask the provider to approve a custom query; once approved it runs once."""
    with ex.transaction() as s:
        return templates.review_out(s, templates.submit_review(s, who, body))


@router.get("/sandbox/reviews", response_model=list[schemas.ReviewOut])
def list_reviews(ex: ExchangeDep, who: PrincipalDep,
                 role: Literal["consumer", "provider"] = "consumer") -> list[schemas.ReviewOut]:
    with ex.read() as s:
        return [templates.review_out(s, r) for r in templates.list_reviews(s, who, role)]


@router.post("/sandbox/reviews/{review_id}/decision", response_model=schemas.ReviewOut)
def decide_review(review_id: Id, body: schemas.DecisionIn, ex: ExchangeDep,
                  who: PrincipalDep) -> schemas.ReviewOut:
    with ex.transaction() as s:
        return templates.review_out(s, templates.decide(s, who, review_id, body))


@router.post("/sandbox/reviews/{review_id}/run", response_model=schemas.QueryResult,
             status_code=status.HTTP_201_CREATED)
def run_review(review_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.QueryResult:
    return _result(ex, templates.run_review(ex, who, review_id))


@router.get("/entitlements/{entitlement_id}/privacy-budget",
            response_model=schemas.PrivacyBudgetOut)
def get_privacy_budget(entitlement_id: Id, ex: ExchangeDep,
                       who: PrincipalDep) -> schemas.PrivacyBudgetOut:
    """The ε budget of an entitlement, for its consumer and its product's provider."""
    with ex.read() as s:
        entitlements.get(s, who, entitlement_id)
        return schemas.PrivacyBudgetOut.model_validate(budget.summary(s, entitlement_id))


@router.put("/entitlements/{entitlement_id}/privacy-budget",
            response_model=schemas.PrivacyBudgetOut)
def set_privacy_budget(entitlement_id: Id, body: schemas.PrivacyBudgetIn, ex: ExchangeDep,
                       who: PrincipalDep) -> schemas.PrivacyBudgetOut:
    """The provider sets (or raises) the total ε; what was spent stays spent."""
    with ex.transaction() as s:
        entitlements.as_provider(s, who, entitlement_id)
        budget.set_budget(s, entitlement_id, body.epsilon, actor=who.actor,
                          refresh=body.refresh)
        return schemas.PrivacyBudgetOut.model_validate(budget.summary(s, entitlement_id))
