"""Provider templates (parametrised queries) and reviewed one-off queries.

A template is SQL with `:name` placeholders; a consumer runs it with typed parameters,
which become literals in the tree (never text pasted into SQL). A reviewed query is a
consumer's custom SQL that the provider approved; the approval is bound to the SHA-256 of
that exact text and is spent by one run. Both still pass the whole gate (thresholds
included); what they add is that they may run on tables in "templates" mode.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlglot import exp

from shugu.catalog.models import Product
from shugu.catalog.permissions import find_product, owned_product
from shugu.db import utcnow
from shugu.errors import Conflict, InvalidInput, NotFound
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.runtime import Exchange
from shugu.sandbox import permissions, schemas, service
from shugu.sandbox.gate.check import DIALECT, parse
from shugu.sandbox.models import QueryReview, QueryTemplate, SandboxQuery


def _placeholders(sql: str) -> set[str]:
    return {str(p.this) for p in parse(sql).find_all(exp.Placeholder)}


def create_template(session: Session, principal: Principal, slug: str,
                    data: schemas.TemplateIn) -> QueryTemplate:
    product = owned_product(session, principal, slug)
    used = _placeholders(data.sql)
    if used != set(data.parameters):
        raise InvalidInput("the SQL's :placeholders and the declared parameters differ",
                           code="template_parameters", placeholders=sorted(used),
                           declared=sorted(data.parameters))
    if session.scalar(select(QueryTemplate.id).where(QueryTemplate.product_id == product.id,
                                                     QueryTemplate.name == data.name)):
        raise Conflict(f"template {data.name!r} exists", code="duplicate_template")
    t = QueryTemplate(product_id=product.id, name=data.name, description=data.description,
                      sql=data.sql, parameters=dict(data.parameters))
    session.add(t)
    session.flush()
    ledger.append(session, actor=principal.actor, action="sandbox.template_created",
                  parties=[principal.org_id],
                  subject=f"sandbox_template:{t.id}",
                  payload={"id": t.id, "product": slug, "name": t.name,
                           "sql_sha256": service.sha256(t.sql), "parameters": t.parameters})
    return t


def list_templates(session: Session, principal: Principal, slug: str) -> list[QueryTemplate]:
    product = find_product(session, slug)
    permissions.check_rules_reader(session, principal, product)
    return list(session.scalars(select(QueryTemplate).where(
        QueryTemplate.product_id == product.id, QueryTemplate.status == "active")
        .order_by(QueryTemplate.name)))


def template_out(session: Session, t: QueryTemplate) -> schemas.TemplateOut:
    product = session.get(Product, t.product_id)
    assert product is not None
    return schemas.TemplateOut(id=t.id, product=product.slug, name=t.name,
                               description=t.description, sql=t.sql, parameters=t.parameters,
                               status=t.status, created_at=t.created_at)


def _literal(name: str, kind: str, value: Any) -> exp.Expression:
    try:
        if kind == "string" and isinstance(value, str):
            return exp.Literal.string(value)
        if kind == "integer" and not isinstance(value, bool):
            return exp.Literal.number(int(value))
        if kind == "number" and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                return exp.Literal.number(repr(number))
        if kind == "date":
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
            return exp.cast(exp.Literal.string(day.isoformat()), "DATE")
    except (TypeError, ValueError):
        pass
    raise InvalidInput(f"parameter {name!r} must be a {kind}", code="invalid_parameter",
                       parameter=name)


def bind(t: QueryTemplate, values: dict[str, Any]) -> str:
    missing = sorted(set(t.parameters) - set(values))
    extra = sorted(set(values) - set(t.parameters))
    if missing or extra:
        raise InvalidInput("give exactly the template's parameters", code="invalid_parameter",
                           missing=missing, unknown=extra)
    literals = {n: _literal(n, kind, values[n]) for n, kind in t.parameters.items()}

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return literals[str(node.this)].copy()
        return node

    return parse(t.sql).transform(substitute).sql(dialect=DIALECT)


def run_template(ex: Exchange, principal: Principal, template_id: int,
                 values: dict[str, Any]) -> SandboxQuery:
    with ex.read() as s:
        t = s.get(QueryTemplate, template_id)
        product = s.get(Product, t.product_id) if t is not None else None
        if t is None or product is None or t.status != "active":
            raise NotFound(f"template {template_id} does not exist", code="template_not_found")
        permissions.sandbox_entitlement(s, principal, product)
    return service.run(ex, principal, bind(t, values), template_id=t.id,
                       trusted_products=frozenset({t.product_id}))


# -- reviewed queries -------------------------------------------------------------------------

def submit_review(session: Session, principal: Principal,
                  data: schemas.ReviewIn) -> QueryReview:
    product = find_product(session, data.product)
    permissions.sandbox_entitlement(session, principal, product)
    parse(data.sql)  # refuse what cannot even parse before a person looks at it
    r = QueryReview(consumer_org_id=principal.org_id, product_id=product.id, sql=data.sql,
                    sql_sha256=service.sha256(data.sql), note=data.note)
    session.add(r)
    session.flush()
    ledger.append(session, actor=principal.actor, action="sandbox.review_submitted",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=f"sandbox_review:{r.id}",
                  payload={"id": r.id, "product": product.slug, "sql_sha256": r.sql_sha256,
                           "consumer_org_id": principal.org_id})
    return r


def _visible_review(session: Session, principal: Principal, review_id: int) -> QueryReview:
    r = session.get(QueryReview, review_id)
    if r is not None:
        product = session.get(Product, r.product_id)
        assert product is not None
        if principal.org_id in (r.consumer_org_id, product.provider_org_id):
            return r
    raise NotFound(f"review {review_id} does not exist", code="review_not_found")


def decide(session: Session, principal: Principal, review_id: int,
           data: schemas.DecisionIn) -> QueryReview:
    r = _visible_review(session, principal, review_id)
    product = session.get(Product, r.product_id)
    assert product is not None
    permissions.check_provider(principal, product)
    if r.status != "pending":
        raise Conflict(f"review {r.id} is already {r.status}", code="review_decided")
    r.status = "approved" if data.approve else "rejected"
    r.decision_note = data.note
    r.decided_at = utcnow()
    ledger.append(session, actor=principal.actor, action=f"sandbox.review_{r.status}",
                  parties=[principal.org_id, r.consumer_org_id],
                  subject=f"sandbox_review:{r.id}",
                  payload={"id": r.id, "sql_sha256": r.sql_sha256, "note": data.note})
    return r


def list_reviews(session: Session, principal: Principal, role: str) -> list[QueryReview]:
    query = select(QueryReview).order_by(QueryReview.id.desc())
    if role == "provider":
        query = query.join(Product, Product.id == QueryReview.product_id).where(
            Product.provider_org_id == principal.org_id)
    else:
        query = query.where(QueryReview.consumer_org_id == principal.org_id)
    return list(session.scalars(query))


def review_out(session: Session, r: QueryReview) -> schemas.ReviewOut:
    product = session.get(Product, r.product_id)
    assert product is not None
    return schemas.ReviewOut(id=r.id, consumer_org_id=r.consumer_org_id, product=product.slug,
                             sql=r.sql, sql_sha256=r.sql_sha256, note=r.note, status=r.status,
                             decision_note=r.decision_note, decided_at=r.decided_at,
                             created_at=r.created_at)


def run_review(ex: Exchange, principal: Principal, review_id: int) -> SandboxQuery:
    """Spend the approval (one conditional UPDATE, so two runs cannot both get it); a run
    that does not produce an answer gives it back."""
    with ex.transaction() as s:
        r = _visible_review(s, principal, review_id)
        if r.consumer_org_id != principal.org_id:
            raise NotFound(f"review {review_id} does not exist", code="review_not_found")
        if service.sha256(r.sql) != r.sql_sha256:
            raise Conflict("the reviewed text changed after approval", code="review_mismatch")
        spent = s.execute(update(QueryReview).where(QueryReview.id == r.id,
                                                    QueryReview.status == "approved")
                          .values(status="used").execution_options(synchronize_session=False))
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"review {r.id} is {r.status}, not approved",
                           code="review_not_approved", status=r.status)
        sql, product_id = r.sql, r.product_id
    try:
        return service.run(ex, principal, sql, review_id=review_id,
                           trusted_products=frozenset({product_id}))
    except BaseException:
        with ex.transaction() as s:
            s.execute(update(QueryReview).where(QueryReview.id == review_id)
                      .values(status="approved"))
        raise
