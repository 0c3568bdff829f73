"""The consumer's sandbox SQL editor, /consumer/sandbox: the tables it may query with their
analysis rules, the provider's templates, a query box, the answer or the refusal (stable
code, clause, column, rule), the query quota and privacy budget before and after, and the
history of recent queries. Queries run through sandbox.service.run (in a worker thread)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from shugu import spreadsheet
from shugu.api.deps import ExchangeDep
from shugu.catalog.models import Product
from shugu.entitlements import service as entitlements
from shugu.errors import NotFound, ShuguError
from shugu.identity.principal import Principal
from shugu.portal import i18n
from shugu.portal.consumer_common import ident, member, usage, validated
from shugu.portal.pages import posted, redirect, render
from shugu.runtime import Exchange
from shugu.sandbox import permissions, private, rules, schemas, service, templates
from shugu.sandbox.models import SandboxQuery

router = APIRouter()
HISTORY = 20
SHOWN_ROWS = 500
# Refusals a provider's review can lift: an approved review unlocks a "templates"-mode
# table of its own product and nothing else (the rest of the gate still applies).
REVIEWABLE = frozenset({"templates_only"})


def remaining(ex: Exchange, who: Principal, slug: str) -> dict[str, str]:
    """Queries and ε left on the entitlement of `slug`, as text for the page's "before"."""
    with ex.read() as s:
        for e, p in entitlements.live_products(s, who.org_id, permissions.MODE):
            if p.slug == slug:
                info = usage(s, e)
                assert info is not None
                left = info["queries_left"]
                eps = info["budget"]
                return {"bq": "" if left is None else str(left),
                        "be": "" if eps["total_epsilon"] is None
                        else str(eps["remaining_epsilon"])}
    return {}


def after_run(ex: Exchange, who: Principal, slug: str, before: dict[str, str],
               run: Any, *args: Any) -> Response:
    """Run, then show the answer or the refusal on the sandbox page (post/redirect/get:
    both are recorded in the history with an id)."""
    try:
        q = run(ex, who, *args)
        query_id = q.id
    except ShuguError as error:
        query_id = error.details.get("query_id")
        if query_id is None:  # refused before anything ran (e.g. a bad parameter)
            raise
    params = {"product": slug, "query": query_id, **before}
    return redirect(f"/consumer/sandbox?{urlencode(params)}#answer")


@router.get("/consumer/sandbox")
def sandbox_page(request: Request, ex: ExchangeDep, product: str = "", query: str = "",
                 bq: str = "", be: str = "") -> Response:
    who = member(ex, request)
    lang = i18n.language(request)
    shown: SandboxQuery | None = None
    with ex.read() as s:
        live = entitlements.live_products(s, who.org_id, permissions.MODE)
        choices = [(p.slug, p.title_en if lang == "en" and p.title_en else p.title_zh)
                   for _, p in live]
        if query:
            shown = service.get(s, who, ident(query))
            if not product and shown.product_ids:
                first = s.get(Product, shown.product_ids[0])
                product = first.slug if first is not None else ""
        chosen = next(((e, p) for e, p in live if p.slug == product), None) if product \
            else (live[0] if live else None)
        if product and chosen is None and shown is None:
            raise NotFound(f"no live sandbox entitlement to {product!r}", code="not_entitled")
        tables, tmpl, info = [], [], None
        if chosen is not None:
            e, p = chosen
            product = p.slug
            info = usage(s, e)
            for t in sorted(p.tables, key=lambda t: t.name):
                if rules.latest(s, t.id) is None or t.current_version is None:
                    continue
                out = rules.to_out(*rules.get_rules(s, who, p.slug, t.name))
                # How SQL names it: slugs with hyphens are quoted identifiers.
                ref = f'"{p.slug}".{t.name}' if "-" in p.slug else f"{p.slug}.{t.name}"
                tables.append({"name": t.name, "ref": ref,
                               "rules": out.rules, "version": out.version,
                               "columns": [str(c["name"]) for c in t.schema_json or []]})
            tmpl = [templates.template_out(s, x)
                    for x in templates.list_templates(s, who, p.slug)]
        history = service.list_queries(s, who, 0, HISTORY)[:HISTORY]
        shown_out = schemas.QueryOut.model_validate(shown) if shown is not None else None
        mine = [{"table": schemas.PrivateTableOut.model_validate(r),
                 "bytes": _size(service.private_dir(ex, who.org_id) / r.file)}
                for r in private.list_own(s, who)]
        reviews = [templates.review_out(s, r)
                   for r in templates.list_reviews(s, who, "consumer")]
    # Which of the chosen product's tables the provider lets join the consumer's own.
    joins = [(tb["ref"], j.on) for tb in tables for j in tb["rules"].joins if j.with_ == "mine"]
    review_product = None
    if shown_out is not None and shown_out.error_code in REVIEWABLE and shown_out.error:
        ref = str(shown_out.error.get("table") or "")
        review_product = ref.rsplit(".", 1)[0] if "." in ref else product
    columns: list[str] = []
    rows: list[list[Any]] = []
    if shown is not None and shown.result_file is not None:
        table = service.result(ex, shown)
        columns = table.column_names
        rows = [list(r.values()) for r in table.slice(0, SHOWN_ROWS).to_pylist()]
    example = ""
    if tables:
        first = tables[0]
        dims = [n for n, c in first["rules"].columns.items() if c.role == "dimension"]
        example = (f"SELECT {dims[0]}, COUNT(*) AS n\nFROM {first['ref']}\nGROUP BY {dims[0]}"
                   if dims else f"SELECT COUNT(*) AS n FROM {first['ref']}")
    return render(request, "consumer/sandbox.html", who=who, choices=choices, product=product,
                  tables=tables, templates=tmpl, usage=info, history=history, shown=shown_out,
                  columns=columns, rows=rows, before={"queries": bq, "epsilon": be},
                  example=example, sql=shown.sql if shown is not None else example,
                  shown_limit=SHOWN_ROWS, mine=mine, joins=joins, reviews=reviews,
                  review_product=review_product, max_bytes=ex.settings.max_upload_bytes)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


@router.get("/consumer/sandbox/queries/{raw_query_id}.csv")
def result_csv(raw_query_id: str, request: Request, ex: ExchangeDep) -> Response:
    """A kept answer as CSV: the rows GET /api/v1/sandbox/queries/{id}/result returns, in
    UTF-8 with a byte order mark so that Excel reads the Chinese right, and text cells
    that would be formulas neutralised (shugu.spreadsheet). Only the
    organisation's own queries (404 for anyone else); a refusal has none (422 no_result)."""
    query_id = ident(raw_query_id)
    who = member(ex, request)
    with ex.read() as s:
        q = service.get(s, who, query_id)
    table = service.result(ex, q)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.column_names)
    for row in jsonable_encoder([list(r.values()) for r in table.to_pylist()]):
        writer.writerow(spreadsheet.row(["" if v is None else v for v in row]))
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="query-{q.id}.csv"',
                             "Cache-Control": "no-store"})


@router.post("/consumer/sandbox/run")
async def run_query(request: Request, ex: ExchangeDep) -> Response:
    who = member(ex, request)
    form = await posted(request, who)
    body = validated(schemas.QueryIn, sql=form.get("sql", ""))
    slug = form.get("product", "")
    before = remaining(ex, who, slug)
    return await run_in_threadpool(after_run, ex, who, slug, before, service.run, body.sql)


@router.post("/consumer/sandbox/templates/{raw_template_id}/run")
async def run_template(raw_template_id: str, request: Request, ex: ExchangeDep) -> Response:
    template_id = ident(raw_template_id)
    who = member(ex, request)
    form = await posted(request, who)
    values = {k.removeprefix("param_"): v for k, v in form.items() if k.startswith("param_")}
    slug = form.get("product", "")
    before = remaining(ex, who, slug)
    return await run_in_threadpool(after_run, ex, who, slug, before, templates.run_template,
                                   template_id, values)
