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


@pytest.mark.parametrize("sql", [
    "SELECT region, SUM(kwh) AS total, COUNT(*) AS n FROM {t} "
    "WHERE region <> '舟山' GROUP BY region ORDER BY region",
    "SELECT industry, month, AVG(kwh), MIN(kwh), MAX(kwh) FROM {t} WHERE month >= 2 "
    "AND region IN ('杭州', '宁波') GROUP BY industry, month ORDER BY 1, 2",
    "SELECT COUNT(DISTINCT uscc) AS companies, SUM(kwh) FROM {t} WHERE region = '温州'",
    "SELECT upper(industry) AS i, round(AVG(kwh), 1) FROM {t} GROUP BY 1 ORDER BY i LIMIT 2",
])
def test_answers_match_plain_duckdb(world: World, sql: str) -> None:
    got = world.consumer.sandbox_query(sql.format(t=T))
    expected = plain(world.data, sql.format(t="usage"))
    assert got.query.status == "succeeded" and got.query.suppressed == 0
    assert close(got.rows, expected), (got.rows, expected)


def test_groups_under_k_are_suppressed_and_counted(world: World) -> None:
    sql = f"SELECT region, SUM(kwh) FROM {T} GROUP BY region ORDER BY region"
    got = world.consumer.sandbox_query(sql)
    assert [r[0] for r in got.rows] == sorted(["杭州", "宁波", "温州", "绍兴"])
    assert got.query.suppressed == 1
    # A lone narrow question is suppressed as well (the ungrouped aggregate gets k too).
    one = world.consumer.sandbox_query(
        f"SELECT COUNT(*), SUM(kwh) FROM {T} WHERE region = '舟山'")
    assert one.rows == [] and one.query.suppressed == 1


def test_exact_path_when_bounds_cannot_decide(orgs: Orgs) -> None:
    """k above the cheap bound's reach: every group is decided by the exact count."""
    rules = copy.deepcopy(RULES)
    rules["min_identities"] = 38
    w = build(orgs, rules)
    got = w.consumer.sandbox_query(
        f"SELECT region, COUNT(DISTINCT uscc) FROM {T} GROUP BY region ORDER BY 1")
    assert got.rows == [["宁波", 38], ["杭州", 38]]
    assert got.query.suppressed == 3  # 温州 37, 绍兴 37, 舟山 2


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
    got = world.consumer.sandbox_query(sql)
    con = duckdb.connect()
    con.register("customers", customers)
    con.register("usage", world.data)
    expected = con.execute(sql.replace("mine.customers", "customers")
                           .replace(T, "usage")).fetchall()
    assert close(got.rows, [tuple(r) for r in expected])
    # Joining on anything but the allowed key, or outputting the key, is refused.
    for bad, code in [
        ("SELECT c.segment, SUM(u.kwh) FROM mine.customers c JOIN "
         f"{T} u ON c.segment = u.region GROUP BY 1", "join_not_allowed"),
        ("SELECT c.uscc, SUM(u.kwh) FROM mine.customers c JOIN "
         f"{T} u ON c.uscc = u.uscc GROUP BY 1", None),
    ]:
        if code is None:
            # The consumer's own key is its own data; the threshold still hides each company.
            per_company = world.consumer.sandbox_query(bad)
            assert per_company.rows == [] and per_company.query.suppressed == 76
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


def test_differencing_pair_is_refused(world: World) -> None:
    base = f"SELECT region, SUM(kwh) FROM {T} WHERE region = '杭州' GROUP BY region"
    world.consumer.sandbox_query(base)
    # The same set minus one company (the attacker knows its address): N vs N-1.
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(
            f"SELECT region, AVG(kwh) FROM {T} WHERE region = '杭州' "
            "AND address <> '路0号' GROUP BY region")
    assert exc.value.code == "differencing_suspected"
    assert exc.value.details["rule"] == "differencing"
    # A wide difference (a whole industry out of the region) is an ordinary drill-down.
    ok = world.consumer.sandbox_query(
        f"SELECT region, SUM(kwh) FROM {T} WHERE region = '杭州' "
        "AND industry <> '农业' GROUP BY region")
    assert ok.query.status == "succeeded"


def test_differencing_through_own_table_swap_is_refused(world: World) -> None:
    everyone = pa.table({"uscc": [f"91330100MA{c:07d}" for c in range(150)]})
    all_but_one = everyone.slice(1)
    world.consumer.upload_private_table("a", parquet_bytes(everyone))
    world.consumer.upload_private_table("b", parquet_bytes(all_but_one))
    q = ("SELECT SUM(u.kwh) FROM mine.{t} c JOIN " + T + " u ON c.uscc = u.uscc")
    world.consumer.sandbox_query(q.format(t="a"))
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(q.format(t="b"))
    assert exc.value.code == "differencing_suspected"


def test_upload_validation(world: World) -> None:
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.upload_private_table("Bad-Name", b"a,b\n1,2\n")
    assert exc.value.status == 400
    world.consumer.upload_private_table("csv_one", b"uscc,seg\n1,x\n", format="csv")
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.upload_private_table("csv_one", b"uscc,seg\n1,x\n", format="csv")
    assert exc.value.status == 409
    assert K == 5


def test_differencing_by_a_shifted_range_is_refused(world: World) -> None:
    """kwh = 1000 + 10 * company + month: the two ranges differ by company 49 alone."""
    q = f"SELECT region, SUM(kwh) FROM {T} WHERE kwh BETWEEN 1000 AND {{upper}} GROUP BY region"
    world.consumer.sandbox_query(q.format(upper=1500))
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.sandbox_query(q.format(upper=1490))
    assert exc.value.code == "differencing_suspected"
    assert exc.value.details["groups"] == 1
