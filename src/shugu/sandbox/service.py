"""Running a consumer's query: gate, engine, threshold, differencing defence, accounting.

The engine runs outside any database transaction (it can take seconds); the entitlement is
checked again and debited in the transaction that records the query, the usage and the
ledger event, so a revocation or an exhausted quota during the run still stops the answer.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from shugu.catalog.models import Product
from shugu.entitlements import service as entitlements
from shugu.errors import Forbidden, ShuguError, Unprocessable
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.metering import service as metering
from shugu.runtime import Exchange
from shugu.sandbox import history, permissions
from shugu.sandbox.dp import budget, estimate, selection
from shugu.sandbox.dp.release import Order, order_of, release
from shugu.sandbox.engine import DuckDBEngine, Engine, EngineSession, Limits, Source
from shugu.sandbox.engine.identity_cache import BUCKET, MASK, RANK, prepared, released
from shugu.sandbox.gate import Catalog, Gated, TableSpec, check, dp_plan, restricted
from shugu.sandbox.gate.catalog import PRIVATE_SCHEMA
from shugu.sandbox.gate.check import parse
from shugu.sandbox.gate.threshold import UNDECIDED
from shugu.sandbox.models import PrivateTable, SandboxQuery
from shugu.sandbox.rules import latest
from shugu.sandbox.schemas import RulesIn

ENGINE_FAILURES = ("query_failed", "query_timeout", "query_memory_exceeded", "internal_error")
# A DP answer's groups are all read before the noisy release picks some.
DP_MAX_GROUPS = 1_000_000


class SandboxSettings(BaseSettings):
    """SHUGU_SANDBOX_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="SHUGU_SANDBOX_", extra="ignore")

    threads: int = 2
    memory_limit: str = "2GB"
    timeout_seconds: float = 30.0
    max_rows: int = 10_000
    # How many earlier queries with the same shape the differencing check compares with.
    history_window: int = 10

    def limits(self) -> Limits:
        return Limits(threads=self.threads, memory_limit=self.memory_limit,
                      timeout_seconds=self.timeout_seconds, max_rows=self.max_rows)


def sandbox_dir(ex: Exchange) -> Path:
    return ex.settings.resolved_data_dir() / "sandbox"


def results_dir(ex: Exchange, org_id: int) -> Path:
    return sandbox_dir(ex) / "results" / str(org_id)


def private_dir(ex: Exchange, org_id: int) -> Path:
    return sandbox_dir(ex) / str(org_id)


# -- what the caller may name ---------------------------------------------------------------

class Context:
    """The caller's queryable tables, resolved once in a read transaction."""

    def __init__(self) -> None:
        self.catalog = Catalog()
        self.entitlement_of: dict[int, int] = {}      # product id -> entitlement id
        self.product_of: dict[str, Product] = {}      # "slug.table" -> product
        self.versions: dict[str, int] = {}            # "slug.table" -> Delta version
        self.directories: dict[str, Path] = {}
        self.table_ids: dict[str, int] = {}
        self.private_files: dict[str, Path] = {}
        self.private_ids: dict[str, int] = {}


def load_context(session: Session, ex: Exchange, principal: Principal) -> Context:
    ctx = Context()
    n = 0
    for e, product in entitlements.live_products(session, principal.org_id, permissions.MODE):
        for table in product.tables:
            rule = latest(session, table.id)
            if rule is None or table.current_version is None:
                continue  # no rules: not queryable in the sandbox
            n += 1
            ref = f"{product.slug}.{table.name}"
            names = tuple(str(c["name"]) for c in table.schema_json or [])
            ctx.catalog.add(TableSpec(ref=ref, view=f"t_{n}", columns=names,
                                      rules=RulesIn.model_validate(rule.body),
                                      rule_version=rule.version, mask=MASK))
            ctx.entitlement_of[product.id] = e.id
            ctx.product_of[ref] = product
            ctx.versions[ref] = int(table.current_version)
            ctx.directories[ref] = ex.settings.tables_dir / table.location
            ctx.table_ids[ref] = table.id
    for p in session.scalars(select(PrivateTable).where(PrivateTable.org_id == principal.org_id)):
        n += 1
        ref = f"{PRIVATE_SCHEMA}.{p.name}"
        ctx.catalog.add(TableSpec(ref=ref, view=f"m_{n}",
                                  columns=tuple(c["name"] for c in p.columns)))
        ctx.private_files[ref] = private_dir(ex, principal.org_id) / p.file
        ctx.private_ids[ref] = p.id
    return ctx


def sources(ctx: Context, queries: list[Gated], cache: Path) -> list[Source]:
    """Views for every table the queries name: product tables at their committed version,
    through the identity-mask copy (engine.identity_cache)."""
    out = []
    specs = {s.ref: s for g in queries for s in g.specs.values()}
    for spec in specs.values():
        if spec.private:
            out.append(Source(view=spec.view, files=(str(ctx.private_files[spec.ref]),)))
            continue
        assert spec.rules is not None
        version = ctx.versions[spec.ref]
        table = DeltaTable(str(ctx.directories[spec.ref]), version=version)
        files = tuple(table.file_uris())
        if not files:
            schema = pa.schema(table.schema().to_arrow()).append(
                pa.field(MASK, pa.uint64())).append(pa.field(BUCKET, pa.uint16())).append(
                pa.field(RANK, pa.int64()))
            out.append(Source(view=spec.view, schema=schema))
            continue
        arrow = table.to_pyarrow_dataset() if table.metadata().partition_columns else None
        identity = spec.rules.identity
        if spec.rules.mode == "aggregate":
            dims = restricted.dimensions(spec)
            k = spec.rules.min_identities
            key = (f"{ctx.table_ids[spec.ref]}/v{version}-"
                   f"{sha256(repr((identity, dims, k)))[:12]}")
            out.append(Source(view=spec.view, files=released(
                cache, key, identity, dims, k, files=() if arrow else files, arrow=arrow)))
            continue
        key = f"{ctx.table_ids[spec.ref]}/v{version}-{sha256(identity)[:12]}"
        out.append(Source(view=spec.view, files=prepared(
            cache, key, identity, files=() if arrow else files, arrow=arrow)))
    return out


# -- running ---------------------------------------------------------------------------------

def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _touched(sql: str, ctx: Context) -> list[Product]:
    """Best effort, for refusals: which entitled products the SQL names."""
    try:
        tree = parse(sql)
    except ShuguError:
        return []
    found: dict[int, Product] = {}
    for t in tree.find_all(exp.Table):
        product = ctx.product_of.get(f"{t.db}.{t.name}".lower())
        if product is not None:
            found[product.id] = product
    return list(found.values())


def record_refusal(ex: Exchange, principal: Principal, sql: str, error: ShuguError,
                   ctx: Context | None, *, template_id: int | None = None,
                   review_id: int | None = None) -> int:
    """Refusals are kept and logged: probing shows up for providers and auditors."""
    products = _touched(sql, ctx) if ctx is not None else []
    with ex.transaction() as s:
        q = SandboxQuery(consumer_org_id=principal.org_id, user_id=principal.user_id,
                         entitlements={str(p.id): ctx.entitlement_of[p.id] for p in products}
                         if ctx else {}, product_ids=[p.id for p in products], sql=sql,
                         sql_sha256=sha256(sql), template_id=template_id,
                         review_id=review_id,
                         status="failed" if error.code in ENGINE_FAILURES else "refused",
                         error_code=error.code,
                         error={"message": error.message, **_jsonable(error.details)})
        s.add(q)
        s.flush()
        ledger.append(s, actor=principal.actor, action="sandbox.query_refused",
                      parties=[principal.org_id, *(p.provider_org_id for p in products)],
                      subject=f"sandbox_query:{q.id}",
                      payload={"id": q.id, "consumer_org_id": principal.org_id,
                               "products": sorted(p.slug for p in products),
                               "sql_sha256": q.sql_sha256, "code": error.code,
                               "details": _public(error.details)})
        return q.id


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v)
            for k, v in details.items()}


def _public(details: dict[str, Any]) -> dict[str, Any]:
    """For the ledger, which every organisation reads: the consumer's own table names stay
    private."""
    out = _jsonable(details)
    for k, v in out.items():
        if isinstance(v, str) and v.lower().startswith(f"{PRIVATE_SCHEMA}."):
            out[k] = f"{PRIVATE_SCHEMA}.*"
    return out


def run(ex: Exchange, principal: Principal, sql: str, *, template_id: int | None = None,
        review_id: int | None = None, trusted_products: frozenset[int] = frozenset(),
        engine: Engine | None = None, settings: SandboxSettings | None = None,
        epsilon: float | None = None,
        accuracy: tuple[float, float] | None = None) -> SandboxQuery:
    """Run one query for the caller's organisation; refusals are recorded and re-raised
    with the refusal's id in `details.query_id`. `epsilon`: what a DP answer may spend
    (default: the tables' ε per query; at most their maximum); `accuracy` (margin,
    confidence): spend the ε that reaches it instead."""
    settings = settings or SandboxSettings()
    engine = engine or DuckDBEngine()
    ctx: Context | None = None
    try:
        with ex.read() as s:
            ctx = load_context(s, ex, principal)
            gated = check(sql, ctx.catalog)
            dp = _check_mode(ctx, gated, trusted_products, epsilon, accuracy)
            _precheck_quota(s, ctx, gated)
            if dp is not None:
                for entitlement_id in _dp_entitlements(ctx, gated):
                    budget.require(s, entitlement_id, dp[0].epsilon)
            # Only threshold answers over templates need the differencing defence: a DP
            # answer is noisy and spends budget; a restricted aggregation reads whole cells.
            candidates = [] if gated.mode != "templates" else history.candidates(
                s, principal.org_id, gated, {**ctx.versions, **ctx.private_ids}, ctx.catalog,
                settings.history_window)
        started = time.monotonic()
        views = sources(ctx, [gated] + [g for _, g in candidates], sandbox_dir(ex) / "cache")
        with engine.session(views, settings.limits()) as session:
            history.defend(session, gated, candidates)
            table, truncated = _answer(session, gated, dp[0] if dp else None)
        elapsed = int((time.monotonic() - started) * 1000)
        return _record(ex, principal, sql, ctx, gated, table, truncated, elapsed,
                       template_id=template_id, review_id=review_id, dp=dp)
    except ShuguError as error:
        query_id = record_refusal(ex, principal, sql, error, ctx, template_id=template_id,
                                  review_id=review_id)
        error.details["query_id"] = query_id
        raise
    except Exception:
        # Whatever broke (a broken install, a bug), the query is kept as failed, never
        # shown as answered; the error itself goes to the server's log.
        record_refusal(ex, principal, sql, Unprocessable(
            "the query failed inside the exchange", code="internal_error"), ctx,
            template_id=template_id, review_id=review_id)
        raise


def _check_mode(ctx: Context, gated: Gated, trusted: frozenset[int],
                epsilon: float | None = None, accuracy: tuple[float, float] | None = None
                ) -> tuple[dp_plan.DPPlan, Order] | None:
    """A template or an approved review unlocks "templates" mode for its own product only;
    a query on a "dp" table gets its DP plan and the ordering to apply to the noisy answer
    (both refuse what DP cannot answer before anything runs or is spent)."""
    for spec in gated.provider_specs:
        assert spec.rules is not None
        if spec.rules.mode == "templates" and ctx.product_of[spec.ref].id not in trusted:
            raise Forbidden(f"{spec.ref} may only be queried through its provider's templates "
                            "or an approved review", code="templates_only", clause="FROM",
                            column=None, rule="mode_templates", table=spec.ref)
    if gated.mode != "dp":
        return None
    if accuracy is not None:
        epsilon = estimate.epsilon_for(dp_plan.plan(gated), *accuracy)
    p = dp_plan.plan(gated, epsilon)
    return p, order_of(gated.select, p)


def estimate_query(ex: Exchange, principal: Principal, sql: str, *,
                   epsilon: float | None = None,
                   accuracy: tuple[float, float] | None = None) -> dict[str, Any]:
    """What a DP query would spend and how accurate it would be, without running it or
    spending anything (margins never depend on the data)."""
    with ex.read() as s:
        ctx = load_context(s, ex, principal)
        gated = check(sql, ctx.catalog)
    if gated.mode != "dp":
        raise Unprocessable("only queries over differentially private tables have an ε to "
                            "estimate", code="not_dp")
    p, _ = _check_mode(ctx, gated, frozenset(), epsilon, accuracy) or (None, None)
    assert p is not None
    return {"epsilon": p.epsilon, "epsilon_each": p.epsilon_each, "delta": p.delta,
            "contributions": p.contributions, "outputs": estimate.outputs(p),
            "group_threshold": selection.threshold(p.epsilon_each, p.delta, p.contributions,
                                                   p.contributions if p.units > 1 else 1)
            if p.grouped else None}


def _dp_entitlements(ctx: Context, gated: Gated,
                     used: dict[str, int] | None = None) -> list[int]:
    """The entitlements whose budgets a DP answer spends: one per product with a dp table
    (`used`: the ones the answer is charged to, chosen in its own transaction)."""
    products = {ctx.product_of[spec.ref].id for spec in gated.provider_specs
                if spec.rules is not None and spec.rules.mode == "dp"}
    return sorted(used[str(p)] if used is not None else ctx.entitlement_of[p]
                  for p in products)


def _precheck_quota(s: Session, ctx: Context, gated: Gated) -> None:
    """Refuse before running when a query quota is already used up (debit re-checks)."""
    for spec in gated.provider_specs:
        product = ctx.product_of[spec.ref]
        e = entitlements.check_live(s, ctx.entitlement_of[product.id], permissions.MODE)
        if e.quota_queries is not None and e.used_queries >= e.quota_queries:
            raise Forbidden("the entitlement's quota is exhausted (queries)",
                            code="quota_exceeded", quotas=["queries"])


def _answer(session: EngineSession, gated: Gated,
            plan: dp_plan.DPPlan | None) -> tuple[pa.Table, bool]:
    """The exact table the release starts from. No count of suppressed groups is kept
    anywhere: it would be an oracle."""
    if plan is not None:
        a = session.query(plan.sql, max_rows=DP_MAX_GROUPS)
        if a.truncated:
            raise Unprocessable(f"the query forms more than {DP_MAX_GROUPS:,} groups; group "
                                "by fewer or coarser columns", code="too_many_groups")
        return a.table, False
    if gated.mode == "aggregate":  # the engine reads only cells of at least k identities
        a = session.query(gated.plain())
        return a.table, a.truncated
    a = session.query(gated.phase_a())
    if a.table.num_rows and not a.extra.get(UNDECIDED):
        return a.table, a.truncated
    b = session.query(gated.phase_b())
    return b.table, b.truncated


def _write_result(ex: Exchange, org_id: int, table: pa.Table) -> tuple[str, str]:
    directory = results_dir(ex, org_id)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.parquet"
    path = directory / name
    pq.write_table(table, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return name, digest


def _record(ex: Exchange, principal: Principal, sql: str, ctx: Context, gated: Gated,
            table: pa.Table, truncated: bool, elapsed: int, *,
            template_id: int | None, review_id: int | None,
            dp: tuple[dp_plan.DPPlan, Order] | None = None) -> SandboxQuery:
    """Debit, spend, record and keep the answer in one transaction: a refusal anywhere
    (quota, privacy budget, revocation) leaves no record, no usage and no result."""
    products = {ctx.product_of[s.ref].id: ctx.product_of[s.ref] for s in gated.provider_specs}
    refs = sorted({s.ref for s in gated.provider_specs})
    written: list[Path] = []
    try:
        with ex.transaction() as s:
            used = {str(product.id): entitlements.live_entitlement(
                s, principal.org_id, product.id, permissions.MODE, rows=table.num_rows).id
                for product in products.values()}
            q = SandboxQuery(
                consumer_org_id=principal.org_id, user_id=principal.user_id, entitlements=used,
                product_ids=sorted(products), sql=sql, sql_sha256=sha256(sql),
                template_id=template_id, review_id=review_id, status="succeeded",
                rule_versions=gated.rule_versions,
                table_versions={r: ctx.versions[r] for r in refs},
                fingerprint=gated.fingerprint, rows=0, suppressed=0,
                truncated=truncated, elapsed_ms=elapsed)
            s.add(q)
            s.flush()
            # Which upload of each own table it read (kept out of the public ledger).
            shape: dict[str, Any] = {"private": {sp.ref: ctx.private_ids[sp.ref]
                                                 for sp in gated.specs.values() if sp.private}}
            dp_info: dict[str, Any] | None = None
            if dp is not None:
                plan, order = dp
                # The budget is spent before any noise is drawn; a refused spend rolls back
                # the whole transaction, so nothing is recorded, billed or released.
                left = {str(e): budget.spend(s, e, plan.epsilon, actor=principal.actor,
                                             purpose=f"sandbox_query:{q.id}")
                        for e in _dp_entitlements(ctx, gated, used)}
                table, released = release(plan, table, order)
                dp_info = {"epsilon": plan.epsilon, "epsilon_each": plan.epsilon_each,
                           "remaining_epsilon": left, **released}
                shape["dp"] = dp_info
            name, digest = _write_result(ex, principal.org_id, table)
            written.append(results_dir(ex, principal.org_id) / name)
            q.rows, q.result_file, q.result_sha256, q.shape = table.num_rows, name, digest, shape
            for product in products.values():
                entitlements.debit(s, used[str(product.id)], queries=1, rows=table.num_rows)
            s.flush()
            for product in products.values():
                e = entitlements.check_live(s, used[str(product.id)], permissions.MODE)
                metering.record(s, e, "sandbox.query", 1,
                                {"query_id": q.id, "rows": table.num_rows})
                if table.num_rows:
                    # Rows released, for per-1,000-rows plans (billing reads "*.rows").
                    metering.record(s, e, "sandbox.rows", table.num_rows, {"query_id": q.id})
            payload = {"id": q.id, "consumer_org_id": principal.org_id,
                       "products": sorted(p.slug for p in products.values()),
                       "sql_sha256": q.sql_sha256, "rule_versions": q.rule_versions,
                       "table_versions": q.table_versions, "result_sha256": digest,
                       "rows": q.rows, "mode": gated.mode, "template_id": template_id,
                       "review_id": review_id}
            if dp_info is not None:
                payload["epsilon"] = dp_info["epsilon"]
            ledger.append(s, actor=principal.actor, action="sandbox.query",
                          parties=[principal.org_id,
                                   *(p.provider_org_id for p in products.values())],
                          subject=f"sandbox_query:{q.id}", payload=payload)
            return q
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


# -- reading back ----------------------------------------------------------------------------

def get(session: Session, principal: Principal, query_id: int) -> SandboxQuery:
    q = session.get(SandboxQuery, query_id)
    permissions.own_record(principal, q.consumer_org_id if q else None, "sandbox query",
                           query_id)
    assert q is not None
    return q


def result(ex: Exchange, q: SandboxQuery) -> pa.Table:
    if q.result_file is None:
        raise Unprocessable(f"query {q.id} has no result ({q.status})", code="no_result")
    return pq.read_table(results_dir(ex, q.consumer_org_id) / q.result_file)


def list_queries(session: Session, principal: Principal, offset: int,
                 limit: int) -> list[SandboxQuery]:
    return list(session.scalars(
        select(SandboxQuery).where(SandboxQuery.consumer_org_id == principal.org_id)
        .order_by(SandboxQuery.id.desc()).offset(offset).limit(limit + 1)))

