"""Differentially private sandbox answers through the API: noise within the published
margins of the plain DuckDB answer, ε debited exactly and atomically with the quota, usage
and ledger, exhausted or missing budgets refused with nothing recorded or billed, budgets
set by the provider or by an agreement, and concurrent queries that never overspend."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from shugu.client import Client, ShuguAPIError
from shugu.errors import ShuguError
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from shugu.sandbox.dp import accuracy
from shugu.sandbox.dp.release import order_of, release
from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.engine.identity_cache import prepared
from shugu.sandbox.gate import check
from shugu.sandbox.gate.dp_plan import plan
from shugu.sandbox.service import results_dir
from tests.conftest import LiveServer, Orgs, list_product
from tests.sandbox.conftest import RULES, SLUG, World, build, parquet_bytes, usage_rows
from tests.sandbox.test_cli import shugu
from tests.sandbox.test_dp_plan import catalog as dp_catalog

T = f'"{SLUG}".usage'
EPS = 10.0           # per query: the groups' release and three noisy outputs, 2.5 each
L = 4                # every company's four months count
LOWER, UPPER = 0, 3000
# Tolerances at 1 - 1e-6 confidence: a correct mechanism fails them about once in 10^5 runs
# of this file; missing noise or noise ten times too big fails every time.
CONF = 1 - 1e-6
SQL = ("SELECT region, COUNT(*) AS n, SUM(kwh) AS total, AVG(kwh) AS mean FROM {t} "
       "WHERE region <> '舟山' GROUP BY region ORDER BY region")


def dp_rules(eps: float = EPS) -> dict[str, Any]:
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": eps, "max_rows_per_identity": L}
    rules["columns"]["kwh"].update(lower=LOWER, upper=UPPER)  # type: ignore[index]
    return rules


def api_error(call: Any) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()
    return info.value


def exact(world: World) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("usage", world.data)
    return [tuple(r) for r in con.execute(
        f"SELECT region, COUNT(*), SUM(LEAST(GREATEST(kwh, {LOWER}), {UPPER})), COUNT(kwh) "
        "FROM usage WHERE region <> '舟山' GROUP BY region ORDER BY region").fetchall()]


def test_noisy_answer_is_close_to_duckdb_and_spends_exactly_epsilon(
        orgs: Orgs, exchange: Exchange) -> None:
    w = build(orgs, dp_rules())
    assert w.provider.set_privacy_budget(w.entitlement_id, 20).total_epsilon == 20
    got = w.consumer.sandbox_query(SQL.format(t=T))
    q = got.query
    assert q.status == "succeeded" and q.dp is not None
    assert got.columns == ["region", "n", "total", "mean"]
    assert q.dp.epsilon == EPS and q.dp.epsilon_each == pytest.approx(EPS / 4)
    assert q.dp.remaining_epsilon == {str(w.entitlement_id): 10.0}
    assert q.dp.contributions == L and q.dp.delta == 1e-6
    each = EPS / 4
    margins = {o.name: o.margin_95 for o in q.dp.outputs}
    assert margins == {"region": None, "n": accuracy.count_margin(each, contributions=L),
                       "total": accuracy.sum_margin(LOWER, UPPER, each, contributions=L),
                       "mean": None}
    truth = exact(w)
    assert [r[0] for r in got.rows] == [r[0] for r in truth]   # consumer's ORDER BY applied
    c_tol = accuracy.count_margin(each, CONF, contributions=L)
    s_tol = accuracy.sum_margin(LOWER, UPPER, each, CONF, contributions=L)
    a_sum = accuracy.sum_margin(LOWER, UPPER, each / 2, CONF, contributions=L)
    a_count = accuracy.count_margin(each / 2, CONF, contributions=L)
    for (_, n, total, mean), (_, tn, ts, tc) in zip(got.rows, truth, strict=True):
        assert abs(n - tn) <= c_tol and abs(total - ts) <= s_tol
        # AVG = noisy sum / noisy count, each within its own tolerance.
        assert (ts - a_sum) / (tc + a_count) <= mean <= (ts + a_sum) / (tc - a_count)
    assert any(total != ts for (_, _, total, _), (_, _, ts, _) in zip(got.rows, truth,
                                                                       strict=True))
    # Exactly ε spent, in the same record as the answer; the ledger says how much.
    b = w.consumer.privacy_budget(w.entitlement_id)
    assert (b.total_epsilon, b.spent_epsilon, b.remaining_epsilon) == (20, EPS, 20 - EPS)
    assert w.consumer.sandbox_query_info(q.id).dp == q.dp
    assert w.consumer.sandbox_result(q.id).rows == got.rows
    with exchange.read() as s:
        event = s.scalars(select(LedgerEvent).where(
            LedgerEvent.subject == f"sandbox_query:{q.id}")).one()
        spent = s.scalars(select(LedgerEvent).where(
            LedgerEvent.action == "privacy_budget.spent")).one()
    assert json.loads(event.payload)["epsilon"] == EPS
    assert json.loads(spent.payload)["purpose"] == f"sandbox_query:{q.id}"
    assert json.loads(spent.payload)["epsilon"] == EPS


def test_order_limit_apply_to_the_noisy_answer(orgs: Orgs) -> None:
    w = build(orgs, dp_rules())
    w.provider.set_privacy_budget(w.entitlement_id, 100)
    got = w.consumer.sandbox_query(f"SELECT region, SUM(kwh) FROM {T} GROUP BY 1 "
                                   "ORDER BY 2 DESC LIMIT 2")
    assert len(got.rows) == 2 and got.rows[0][1] >= got.rows[1][1]
    # 舟山 (2 companies) is far under the groups' release threshold; nothing says so.
    assert got.query.suppressed == 0
    assert "舟山" not in [r[0] for r in got.rows]
    # An ordering the noisy table cannot apply is refused before anything is spent.
    err = api_error(lambda: w.consumer.sandbox_query(
        f"SELECT COUNT(*) FROM {T} GROUP BY region ORDER BY region"))
    assert err.status == 422 and err.code == "dp_order_not_allowed"
    assert w.consumer.privacy_budget(w.entitlement_id).spent_epsilon == EPS


def results(exchange: Exchange, consumer: Client) -> int:
    directory = results_dir(exchange, consumer.org_id)  # type: ignore[attr-defined]
    return len(list(directory.glob("*.parquet"))) if directory.exists() else 0


def test_exhausted_or_missing_budget_is_refused_and_nothing_is_billed(
        orgs: Orgs, exchange: Exchange) -> None:
    w = build(orgs, dp_rules())
    err = api_error(lambda: w.consumer.sandbox_query(SQL.format(t=T)))
    assert err.status == 403 and err.code == "no_privacy_budget"
    w.provider.set_privacy_budget(w.entitlement_id, 2 * EPS + 1)
    for _ in range(2):
        w.consumer.sandbox_query(SQL.format(t=T))
    before = (w.consumer.get_entitlement(w.entitlement_id).used,
              len(w.consumer.usage().items), results(exchange, w.consumer))
    err = api_error(lambda: w.consumer.sandbox_query(SQL.format(t=T)))
    assert err.status == 403 and err.code == "privacy_budget_exhausted"
    assert err.details["remaining_epsilon"] == 1.0
    assert err.details["requested_epsilon"] == EPS
    after = (w.consumer.get_entitlement(w.entitlement_id).used,
             len(w.consumer.usage().items), results(exchange, w.consumer))
    assert after == before and before[0].queries == 2
    b = w.consumer.privacy_budget(w.entitlement_id)
    assert (b.spent_epsilon, b.remaining_epsilon) == (2 * EPS, 1.0)
    refused = w.consumer.sandbox_queries().items[0]
    assert refused.status == "refused" and refused.error_code == "privacy_budget_exhausted"
    assert refused.result_sha256 is None and refused.dp is None
    # Raising the budget lets the consumer go on; what was spent stays spent.
    assert w.provider.set_privacy_budget(w.entitlement_id, 3 * EPS).remaining_epsilon == EPS
    w.consumer.sandbox_query(SQL.format(t=T))
    assert w.consumer.privacy_budget(w.entitlement_id).remaining_epsilon == 0


@pytest.mark.slow
def test_concurrent_queries_never_overspend(orgs: Orgs, exchange: Exchange) -> None:
    w = build(orgs, dp_rules(1.0))
    w.provider.set_privacy_budget(w.entitlement_id, 3)
    sql = f"SELECT region, COUNT(*) FROM {T} GROUP BY region"

    def ask(_: int) -> str:
        try:
            w.consumer.sandbox_query(sql)
            return "ok"
        except ShuguAPIError as e:
            return e.code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(ask, range(8)))
    assert outcomes.count("ok") == 3, outcomes
    assert set(outcomes) == {"ok", "privacy_budget_exhausted"}
    b = w.consumer.privacy_budget(w.entitlement_id)
    assert (b.spent_epsilon, b.remaining_epsilon) == (3.0, 0.0)
    assert w.consumer.get_entitlement(w.entitlement_id).used.queries == 3
    assert len([u for u in w.consumer.usage().items if u.kind == "sandbox.query"]) == 3
    assert results(exchange, w.consumer) == 3
    with exchange.read() as s:
        assert len(s.scalars(select(LedgerEvent).where(
            LedgerEvent.action == "privacy_budget.spent")).all()) == 3


def test_budget_endpoints_answer_only_the_parties(orgs: Orgs, server: LiveServer) -> None:
    w = build(orgs, dp_rules())
    stranger = orgs.new(["consumer", "provider"], "别家银行")
    assert w.consumer.privacy_budget(w.entitlement_id).total_epsilon is None
    for call in (lambda: stranger.privacy_budget(w.entitlement_id),
                 lambda: stranger.set_privacy_budget(w.entitlement_id, 100),
                 lambda: w.consumer.privacy_budget(10_000)):
        err = api_error(call)
        assert err.status == 404 and err.code == "entitlement_not_found"
    err = api_error(lambda: w.consumer.set_privacy_budget(w.entitlement_id, 100))
    assert err.status == 403 and err.code == "not_product_owner"
    assert api_error(lambda: w.provider.set_privacy_budget(w.entitlement_id, 0)).status == 422
    assert w.provider.privacy_budget(w.entitlement_id).total_epsilon is None
    # The CLI: the provider sets, the consumer reads.
    code, out = shugu(server, w.provider.token, "entitlement", "budget",
                      str(w.entitlement_id), "--set", "2.5")
    assert code == 0 and '"total_epsilon": 2.5' in out, out
    code, out = shugu(server, w.consumer.token, "entitlement", "budget", str(w.entitlement_id))
    assert code == 0 and '"remaining_epsilon": 2.5' in out, out
    code, out = shugu(server, stranger.token, "entitlement", "budget", str(w.entitlement_id))
    assert code == 1 and "entitlement_not_found" in out


def test_agreement_with_epsilon_sets_the_budget(orgs: Orgs, operator: Client) -> None:
    provider = orgs.new(["provider"], "浙江电网公司")
    consumer = orgs.new(["consumer"], "杭州银行")
    provider.create_product(SLUG, "企业用电量")
    provider.create_table(SLUG, "usage")
    data = usage_rows()
    provider.ingest(SLUG, "usage", parquet_bytes(data), format="parquet")
    list_product(provider, operator, SLUG)
    provider.set_analysis_rules(SLUG, "usage", dp_rules(1.0))
    policy = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
              "permission": [{"action": "use", "constraint": [
                  {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                   "rightOperand": ["sandbox"]},
                  {"leftOperand": "epsilon", "operator": "lteq", "rightOperand": 2.5}]}]}
    oid = provider.create_offer(SLUG, "隐私计算", plan="one_time", price_fen=100_00,
                                policy=policy).id
    n = consumer.request_offer(oid, "credit_risk", purpose_text="授信审批")
    assert n.agreement_id is not None
    agreement = consumer.get_agreement(n.agreement_id)
    assert agreement.terms["epsilon"] == 2.5 and agreement.entitlement_id is not None
    eid = agreement.entitlement_id
    assert provider.privacy_budget(eid).total_epsilon == 2.5
    sql = f"SELECT region, COUNT(*) FROM {T} GROUP BY region"
    for _ in range(2):
        assert consumer.sandbox_query(sql).query.dp is not None
    err = api_error(lambda: consumer.sandbox_query(sql))
    assert err.code == "privacy_budget_exhausted" and err.details["remaining_epsilon"] == 0.5
    assert consumer.privacy_budget(eid).spent_epsilon == 2.0


@pytest.mark.parametrize(("sql", "keys", "limit", "offset"), [
    ("SELECT g, SUM(v) AS s FROM ppp.t GROUP BY g ORDER BY s DESC LIMIT 3 OFFSET 1",
     [("s", True)], 3, 1),
    ("SELECT g AS grp, SUM(v) FROM ppp.t GROUP BY g ORDER BY SUM(v), g",
     [("col1", False), ("grp", False)], None, 0),
    ("SELECT t.g, COUNT(*) FROM ppp.t t GROUP BY t.g ORDER BY 2 DESC, t.g",
     [("col1", True), ("g", False)], None, 0),
])
def test_order_maps_onto_outputs(sql: str, keys: list[tuple[str, bool]], limit: int | None,
                                 offset: int) -> None:
    gated = check(sql, dp_catalog())
    order = order_of(gated.select, plan(gated))
    assert (order.keys, order.limit, order.offset) == (keys, limit, offset)


def test_order_by_a_hidden_grouping_is_refused() -> None:
    gated = check("SELECT COUNT(*) FROM ppp.t GROUP BY g ORDER BY g", dp_catalog())
    with pytest.raises(ShuguError) as exc:
        order_of(gated.select, plan(gated))
    assert exc.value.code == "dp_order_not_allowed"


def test_integer_columns_get_integer_noise(tmp_path: Path) -> None:
    table = pa.table({"id": [f"i{i}" for i in range(60)], "g": [i % 3 for i in range(60)],
                      "v": pa.array([i % 15 for i in range(60)], pa.int64())})
    pq.write_table(table, tmp_path / "t.parquet")
    gated = check("SELECT SUM(v) AS s, AVG(v) AS a FROM ppp.t", dp_catalog())
    p = plan(gated)
    files = prepared(tmp_path / "cache", "t/v1", "id", files=(str(tmp_path / "t.parquet"),))
    with DuckDBEngine().session([Source(view="t_1", files=files)], Limits()) as s:
        got = s.query(p.sql).table
    noisy, info = release(p, got, order_of(gated.select, p))
    assert noisy.column_names == ["s", "a"]
    assert noisy.schema.field("s").type == pa.int64()
    assert noisy.schema.field("a").type == pa.float64()
    assert all(0 <= a <= 10 for a in noisy.column("a").to_pylist())
    margin = info["outputs"][0]["margin_95"]
    assert margin == accuracy.sum_margin(0, 10, p.epsilon_each, integer=True,
                                         contributions=p.contributions)
