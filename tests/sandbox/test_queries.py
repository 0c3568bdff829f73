"""Queries through the API: correct answers (against plain DuckDB on the same rows),
threshold suppression, accounting, results kept, refusals logged, quotas, modes."""

from __future__ import annotations

import copy
import math

import duckdb
import pyarrow as pa
import pytest

from shugu.client import ShuguAPIError
from tests.conftest import Orgs
from tests.sandbox.conftest import RULES, SLUG, K, World, build, parquet_bytes

T = f'"{SLUG}".usage'  # product slugs with hyphens are quoted identifiers in SQL


def plain(data: pa.Table, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.register("usage", data)
    return [tuple(r) for r in con.execute(sql).fetchall()]


def close(a: list[list[object]], b: list[tuple[object, ...]]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float) or isinstance(y, float):
                if not math.isclose(float(x), float(y), rel_tol=1e-9):  # type: ignore[arg-type]
                    return False
            elif x != y:
                return False
    return True


def released(data: pa.Table) -> pa.Table:
    """The rows a restricted aggregation answers from: cells (region, industry, month) of at
    least K distinct companies."""
    con = duckdb.connect()
    con.register("usage", data)
    return con.execute(
        "SELECT u.* FROM usage u SEMI JOIN (SELECT region, industry, month FROM usage "
        f"GROUP BY ALL HAVING COUNT(DISTINCT uscc) >= {K}) c "
        "USING (region, industry, month)").to_arrow_table()


@pytest.mark.parametrize("sql", [
    "SELECT region, SUM(kwh) AS total, COUNT(*) AS n FROM {t} "
    "WHERE region <> '舟山' GROUP BY region ORDER BY region",
    "SELECT industry, month, AVG(kwh), MIN(region), MAX(region) FROM {t} WHERE month >= 2 "
    "AND region IN ('杭州', '宁波') GROUP BY industry, month ORDER BY 1, 2",
    "SELECT region, industry, month, COUNT(DISTINCT uscc) AS companies, SUM(kwh) FROM {t} "
    "GROUP BY region, industry, month ORDER BY 1, 2, 3",
    "SELECT upper(industry) AS i, round(AVG(kwh), 1) FROM {t} GROUP BY 1 ORDER BY i LIMIT 2",
    "SELECT month // 2 AS half, SUM(kwh) FROM {t} WHERE region LIKE '%州' GROUP BY 1 ORDER BY 1",
])
def test_answers_match_plain_duckdb_over_the_released_cells(world: World, sql: str) -> None:
    got = world.consumer.sandbox_query(sql.format(t=T))
    expected = plain(released(world.data), sql.format(t="usage"))
    assert got.query.status == "succeeded" and got.query.suppressed == 0
    assert close(got.rows, expected), (got.rows, expected)


def test_small_cells_are_left_out_and_nothing_says_so(world: World) -> None:
    sql = f"SELECT region, SUM(kwh) FROM {T} GROUP BY region ORDER BY region"
    got = world.consumer.sandbox_query(sql)
    assert [r[0] for r in got.rows] == sorted(["杭州", "宁波", "温州", "绍兴"])
    assert got.query.suppressed == 0    # no count of what was left out: it is an oracle
    # A lone narrow question answers from no rows at all, whatever 舟山 holds.
    one = world.consumer.sandbox_query(
        f"SELECT COUNT(*), SUM(kwh) FROM {T} WHERE region = '舟山'")
    assert one.rows == [[0, None]] and one.query.suppressed == 0
    # The total is the sum of the released cells: total minus the regions reveals nothing.
    total = world.consumer.sandbox_query(f"SELECT SUM(kwh) FROM {T}").rows[0][0]
    assert math.isclose(total, sum(r[1] for r in got.rows))


def test_accounting_and_results(world: World, orgs: Orgs) -> None:
    got = world.consumer.sandbox_query(
        f"SELECT month, SUM(kwh) FROM {T} GROUP BY month ORDER BY month")
    q = got.query
    assert q.rows == 4 and q.rule_versions == {f"{SLUG}.usage": 1}
    assert q.table_versions == {f"{SLUG}.usage": 0} and len(q.result_sha256 or "") == 64
    again = world.consumer.sandbox_result(q.id)
    assert again.rows == got.rows and again.columns == got.columns
    assert world.consumer.sandbox_query_info(q.id).id == q.id
    assert [x.id for x in world.consumer.sandbox_queries().items] == [q.id]
    usage = world.consumer.usage().items
    assert [(u.kind, u.quantity, u.detail["query_id"]) for u in usage] == \
        [("sandbox.query", 1, q.id), ("sandbox.rows", 4, q.id)]
    ent = world.consumer.get_entitlement(world.entitlement_id)
    assert ent.used.queries == 1 and ent.used.rows == 4
    event = world.consumer.events(action="sandbox.query").items[-1]
    assert event.payload["result_sha256"] == q.result_sha256
    assert event.payload["rule_versions"] == {f"{SLUG}.usage": 1}
    # Nobody else sees the query or its result.
    stranger = orgs.new(["consumer"], "别家银行")
    for call in (lambda: stranger.sandbox_query_info(q.id),
                 lambda: stranger.sandbox_result(q.id),
                 lambda: world.provider.sandbox_result(q.id)):
        with pytest.raises(ShuguAPIError) as exc:
            call()
        assert exc.value.status == 404
    assert stranger.sandbox_queries().items == []


def test_refusals_are_recorded_for_the_provider_to_see(world: World) -> None:
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(
            f"SELECT COUNT(*) FROM {T} WHERE uscc = '91330100MA0000001'")
    assert exc.value.status == 422 and exc.value.code == "literal_probe"
    details = exc.value.details
    assert (details["clause"], details["column"], details["rule"]) == \
        ("WHERE", f"{SLUG}.usage.uscc", "no_identity_literals")
    refused = world.consumer.sandbox_query_info(details["query_id"])
    assert refused.status == "refused" and refused.error_code == "literal_probe"
    event = world.provider.events(action="sandbox.query_refused").items[-1]
    assert event.payload["products"] == [SLUG] and event.payload["code"] == "literal_probe"
    ent = world.consumer.get_entitlement(world.entitlement_id)
    assert ent.used.queries == 0  # refusals are not billed
    # A consumer's own table names do not go into the ledger at all (its parties, the
    # operator and auditors read the payload): only "mine.*".
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query("SELECT COUNT(*) FROM mine.vip_clients")
    assert exc.value.details["table"] == "mine.vip_clients"
    event = world.consumer.events(action="sandbox.query_refused").items[-1]
    assert event.payload["details"]["table"] == "mine.*"


def test_entitlement_required(world: World, orgs: Orgs) -> None:
    stranger = orgs.new(["consumer"], "别家银行")
    with pytest.raises(ShuguAPIError) as exc:
        stranger.sandbox_query(f"SELECT COUNT(*) FROM {T}")
    assert exc.value.code == "table_not_allowed"
    world.provider.revoke_entitlement(world.entitlement_id, "合同到期")
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(f"SELECT COUNT(*) FROM {T}")
    assert exc.value.code == "table_not_allowed"


def test_query_quota(orgs: Orgs) -> None:
    w = build(orgs, quotas={"queries": 1})
    w.consumer.sandbox_query(f"SELECT COUNT(*) FROM {T}")
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.sandbox_query(f"SELECT SUM(kwh) FROM {T}")
    assert exc.value.status == 403 and exc.value.code == "quota_exceeded"


def test_dp_and_template_modes(orgs: Orgs) -> None:
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": 0.5}
    rules["columns"]["kwh"]["lower"] = 0  # type: ignore[index]
    rules["columns"]["kwh"]["upper"] = 5000  # type: ignore[index]
    w = build(orgs, rules)
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.sandbox_query(f"SELECT region, SUM(kwh) FROM {T} GROUP BY 1")
    # DP answers need a privacy budget (tests/sandbox/test_dp.py).
    assert exc.value.status == 403 and exc.value.code == "no_privacy_budget"
    rules["mode"] = "templates"
    w.provider.set_analysis_rules(SLUG, "usage", rules)
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.sandbox_query(f"SELECT region, SUM(kwh) FROM {T} GROUP BY 1")
    assert exc.value.status == 403 and exc.value.code == "templates_only"


def test_private_table_join_and_delete(world: World, orgs: Orgs) -> None:
    customers = pa.table({"uscc": [f"91330100MA{c:07d}" for c in range(0, 152, 2)],
                          "segment": ["对公" if c % 4 == 0 else "小微" for c in range(0, 152, 2)]})
    out = world.consumer.upload_private_table("customers", parquet_bytes(customers))
    assert out.rows == 76
    sql = ("SELECT c.segment, SUM(u.kwh) AS total FROM mine.customers c "
           f"JOIN {T} u ON c.uscc = u.uscc GROUP BY c.segment ORDER BY 1")
    # Exact answers never join a consumer's own table (it could pick companies one by one);
    # the same table under differential privacy answers, noisily.
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(sql)
    assert exc.value.code == "join_not_allowed"
    assert exc.value.details["rule"] == "restricted_aggregation"
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": 8, "max_rows_per_identity": 4}
    rules["columns"]["kwh"].update(lower=0, upper=5000)  # type: ignore[index]
    world.provider.set_analysis_rules(SLUG, "usage", rules)
    world.provider.set_privacy_budget(world.entitlement_id, 100)
    got = world.consumer.sandbox_query(sql)
    assert got.query.dp is not None and [r[0] for r in got.rows] == ["对公", "小微"]
    for bad, code in [
        ("SELECT c.segment, SUM(u.kwh) FROM mine.customers c JOIN "
         f"{T} u ON c.segment = u.region GROUP BY 1", "join_not_allowed"),
        ("SELECT c.uscc, SUM(u.kwh) FROM mine.customers c JOIN "
         f"{T} u ON c.uscc = u.uscc GROUP BY 1", None),
    ]:
        if code is None:
            # The consumer's own key is its own data; one company per group is under the
            # groups' release threshold, so no group is shown.
            per_company = world.consumer.sandbox_query(bad)
            assert per_company.rows == [] and per_company.query.suppressed == 0
            continue
        with pytest.raises(ShuguAPIError) as exc:
            world.consumer.sandbox_query(bad)
        assert exc.value.code == code
    # Other organisations neither see nor reach it.
    stranger = orgs.new(["consumer"], "别家银行")
    assert stranger.private_tables() == []
    assert world.provider.private_tables() == []
    with pytest.raises(ShuguAPIError) as exc:
        stranger.delete_private_table("customers")
    assert exc.value.status == 404
    world.consumer.delete_private_table("customers")
    assert world.consumer.private_tables() == []
    assert world.consumer.events(action="sandbox.private_table_deleted").items
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(sql)
    assert exc.value.code == "table_not_allowed"


def test_differencing_pairs_learn_nothing_about_one_company(world: World) -> None:
    """N vs N-1 by a never-output column, by a measure range or by an own table: the first
    two are refused (filters only on dimensions), the last cannot join; wide drill-downs
    answer, and their difference is a sum of whole cells of at least k companies."""
    refused = [
        (f"SELECT region, SUM(kwh) FROM {T} WHERE region = '杭州' AND address <> '路0号' "
         "GROUP BY region", "dimension_required"),
        (f"SELECT region, SUM(kwh) FROM {T} WHERE kwh BETWEEN 1000 AND 1490 GROUP BY region",
         "dimension_required"),
        (f"SELECT SUM(kwh) FROM {T} WHERE month = 1 AND NOT (region = '杭州' AND "
         "industry = '制造' AND uscc = '91330100MA0000000')", "literal_probe"),
    ]
    for sql, code in refused:
        with pytest.raises(ShuguAPIError) as exc:
            world.consumer.sandbox_query(sql)
        assert exc.value.code == code, sql
    a = world.consumer.sandbox_query(
        f"SELECT SUM(kwh) FROM {T} WHERE region = '杭州'").rows[0][0]
    b = world.consumer.sandbox_query(
        f"SELECT SUM(kwh) FROM {T} WHERE region = '杭州' AND industry <> '农业'").rows[0][0]
    cells = plain(released(world.data), "SELECT SUM(kwh) FROM usage WHERE region = '杭州' "
                  "AND industry = '农业'")[0][0]
    assert math.isclose(a - b, cells)


def test_upload_validation(world: World) -> None:
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.upload_private_table("Bad-Name", b"a,b\n1,2\n")
    assert exc.value.status == 400
    world.consumer.upload_private_table("csv_one", b"uscc,seg\n1,x\n", format="csv")
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.upload_private_table("csv_one", b"uscc,seg\n1,x\n", format="csv")
    assert exc.value.status == 409
    assert K == 5
