"""Entity-level DP through the API: accuracy chosen before running, budgets that refresh,
margins that hold, refusals of over-complex SQL, and failures recorded as failed."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from sqlalchemy import update

from shugu.client import ShuguAPIError
from shugu.db import utcnow
from shugu.runtime import Exchange
from shugu.sandbox.dp import accuracy
from shugu.sandbox.dp.models import PrivacyBudget
from shugu.sandbox.dp.release import Order, release
from shugu.sandbox.gate import check
from shugu.sandbox.gate.dp_plan import plan
from tests.conftest import Orgs
from tests.sandbox.conftest import RULES, SLUG, World, build
from tests.sandbox.test_dp_plan import catalog as dp_catalog

T = f'"{SLUG}".usage'


def dp_rules(**settings: Any) -> dict[str, Any]:
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": 1.0, "max_epsilon_per_query": 10.0,
                   "max_rows_per_identity": 4, **settings}
    rules["columns"]["kwh"].update(lower=0, upper=3000)  # type: ignore[index]
    return rules


@pytest.fixture
def dp_world(orgs: Orgs) -> World:
    w = build(orgs, dp_rules())
    w.provider.set_privacy_budget(w.entitlement_id, 50)
    return w


def test_new_tables_default_to_dp(orgs: Orgs) -> None:
    rules = copy.deepcopy(RULES)
    del rules["mode"]
    rules["columns"]["kwh"].update(lower=0, upper=3000)  # type: ignore[index]
    w = build(orgs, rules)
    got = w.provider.analysis_rules(SLUG, "usage").rules
    assert got.mode == "dp" and got.dp.epsilon_per_query == 1.0
    assert got.dp.max_rows_per_identity == 1
    with pytest.raises(ShuguAPIError) as exc:  # SUM needs bounds under DP
        rules["columns"]["kwh"] = {"role": "aggregatable", "functions": ["SUM"]}
        w.provider.set_analysis_rules(SLUG, "usage", rules)
    assert exc.value.status == 422


@pytest.mark.parametrize("bound", ["1e400", "-1e400", "NaN", "Infinity", "1e16"])
def test_out_of_range_bounds_are_refused(dp_world: World, bound: str) -> None:
    """Raw JSON: ±1e400 parses as infinity; no row is written, nothing answers 500."""
    body = json.dumps(dp_rules()).replace('"upper": 3000', f'"upper": {bound}')
    c = dp_world.provider
    r = httpx.put(f"{c.base_url}/api/v1/products/{SLUG}/tables/usage/analysis-rules",
                  content=body, headers={"Authorization": f"Bearer {c.token}",
                                         "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert c.analysis_rules(SLUG, "usage").version == 1


def test_accuracy_first(dp_world: World) -> None:
    sql = f"SELECT region, COUNT(*) AS n, SUM(kwh) AS s FROM {T} GROUP BY region"
    before = dp_world.consumer.privacy_budget(dp_world.entitlement_id).spent_epsilon
    est = dp_world.consumer.sandbox_estimate(sql, margin=20_000.0)
    margins = {o.name: o.margin_95 for o in est.outputs}
    assert margins["n"] is not None and margins["n"] <= 20_000
    assert margins["s"] is not None and 19_000 <= margins["s"] <= 20_000
    assert est.contributions == 4 and est.group_threshold is not None
    # Nothing was spent or run by estimating.
    assert dp_world.consumer.privacy_budget(dp_world.entitlement_id).spent_epsilon == before
    assert dp_world.consumer.sandbox_queries().items == []
    # The same margin when running spends exactly the estimated ε.
    got = dp_world.consumer.sandbox_query(sql, margin=20_000.0)
    assert got.query.dp is not None and got.query.dp.epsilon == pytest.approx(est.epsilon)
    # Asking for more accuracy than the maximum ε allows is refused before spending.
    with pytest.raises(ShuguAPIError) as exc:
        dp_world.consumer.sandbox_query(sql, margin=0.01)
    assert exc.value.code == "epsilon_too_large"
    with pytest.raises(ShuguAPIError) as exc:
        dp_world.consumer.sandbox_estimate(sql, epsilon=11)
    assert exc.value.status == 422
    # Estimating a query on a non-DP table says so.
    dp_world.provider.set_analysis_rules(SLUG, "usage", RULES)
    with pytest.raises(ShuguAPIError) as exc:
        dp_world.consumer.sandbox_estimate(f"SELECT COUNT(*) FROM {T}")
    assert exc.value.code == "not_dp"


def test_budget_refreshes_each_period(dp_world: World, exchange: Exchange) -> None:
    w = dp_world
    b = w.provider.set_privacy_budget(w.entitlement_id, 2.0, refresh="daily")
    assert b.refresh == "daily" and b.period_start is not None
    sql = f"SELECT COUNT(*) FROM {T}"
    w.consumer.sandbox_query(sql, epsilon=2.0)
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.sandbox_query(sql)
    assert exc.value.code == "privacy_budget_exhausted"
    with exchange.transaction() as s:  # a day passes
        s.execute(update(PrivacyBudget).where(PrivacyBudget.entitlement_id == w.entitlement_id)
                  .values(period_start=utcnow() - timedelta(days=1, hours=1)))
    assert w.consumer.privacy_budget(w.entitlement_id).remaining_epsilon == 2.0
    w.consumer.sandbox_query(sql)
    assert w.consumer.privacy_budget(w.entitlement_id).spent_epsilon == 1.0
    assert w.provider.events(action="privacy_budget.refreshed").items
    with pytest.raises(ShuguAPIError) as exc:
        w.provider.set_privacy_budget(w.entitlement_id, 2.0, refresh="hourly")
    assert exc.value.status == 422


@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * 3000 + "1" + ")" * 3000 + f" FROM {T}",
    f"SELECT COUNT(*) FROM {T} WHERE " + "NOT " * 3000 + "month = 1",
    f"SELECT COUNT(*) FROM {T} WHERE " + " OR ".join(["month = 1"] * 2000),
    "SELECT " + "lower(" * 1500 + "region" + ")" * 1500 + f", COUNT(*) FROM {T} GROUP BY 1",
    f"SELECT COUNT(*) FROM {T} WHERE month IN (" + ", ".join(["1"] * 12000) + ")",
])
def test_over_complex_sql_is_a_recorded_refusal(dp_world: World, sql: str) -> None:
    with pytest.raises(ShuguAPIError) as exc:
        dp_world.consumer.sandbox_query(sql)
    assert exc.value.status == 422 and exc.value.code == "sql_too_complex"
    kept = dp_world.consumer.sandbox_query_info(exc.value.details["query_id"])
    assert kept.status == "refused" and kept.error_code == "sql_too_complex"


def test_a_broken_query_is_recorded_as_failed(dp_world: World, exchange: Exchange) -> None:
    sql = f"SELECT COUNT(*) FROM {T}"
    dp_world.consumer.sandbox_query(sql)
    # Break the engine's copy of the table under it (a disk fault, a broken install).
    cache = Path(exchange.settings.resolved_data_dir()) / "sandbox" / "cache"
    for f in cache.rglob("*.parquet"):
        f.write_bytes(b"not parquet")
    with pytest.raises(ShuguAPIError) as exc:
        dp_world.consumer.sandbox_query(sql)
    assert exc.value.status == 422 and exc.value.code == "query_failed"
    latest = dp_world.consumer.sandbox_queries().items[0]
    assert latest.status == "failed" and latest.id == exc.value.details["query_id"]


def test_margins_hold_in_at_least_90_percent_of_200_trials() -> None:
    gated = check("SELECT g, COUNT(*) AS n, SUM(v) AS s FROM ppp.t GROUP BY g", dp_catalog())
    p = plan(gated)
    exact = pa.table({"__g0": [0, 1], "__ids": [500, 800], "__v1": [1000, 1600],
                      "__v2": [4000.0, 9000.0], "__n2": [1000, 1600]})
    inside = {"n": 0, "s": 0}
    for _ in range(200):
        noisy, info = release(p, exact, Order(keys=[], limit=None, offset=0))
        margins = {o["name"]: o.get("margin_95") for o in info["outputs"]}
        rows = {r["g"]: r for r in noisy.to_pylist()}
        truth = {0: (1000, 4000.0), 1: (1600, 9000.0)}
        for g, (n, s) in truth.items():
            inside["n"] += abs(rows[g]["n"] - n) <= margins["n"]
            inside["s"] += abs(rows[g]["s"] - s) <= margins["s"]
    assert inside["n"] >= 0.9 * 400 and inside["s"] >= 0.9 * 400
    assert margins["n"] == accuracy.count_margin(p.epsilon_each, contributions=2)
