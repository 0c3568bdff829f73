"""Templates run with typed parameters; reviewed queries run once, bound to their text."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from shugu.client import ShuguAPIError
from tests.conftest import Orgs
from tests.sandbox.conftest import RULES, SLUG, World, build

T = f'"{SLUG}".usage'


@pytest.fixture
def templated(orgs: Orgs) -> World:
    rules = copy.deepcopy(RULES)
    rules["mode"] = "templates"
    return build(orgs, rules)


def test_template_runs_with_parameters(templated: World, orgs: Orgs) -> None:
    w = templated
    t = w.provider.create_template(
        SLUG, "region_month", f"SELECT region, SUM(kwh) AS total FROM {T} "
        "WHERE month >= :from_month AND region <> :skip GROUP BY region ORDER BY region",
        parameters={"from_month": "integer", "skip": "string"})
    assert [x.name for x in w.consumer.templates(SLUG)] == ["region_month"]
    got = w.consumer.run_template(t.id, from_month=3, skip="温州")
    assert [r[0] for r in got.rows] == ["宁波", "杭州", "绍兴"]
    assert got.query.template_id == t.id and got.query.suppressed == 0  # 舟山: not told
    assert "'温州'" in got.query.sql and ":skip" not in got.query.sql
    # Parameters are literals, never SQL.
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.run_template(t.id, from_month="3 OR 1=1", skip="x")
    assert exc.value.code == "invalid_parameter"
    quoted = w.consumer.run_template(t.id, from_month=1, skip="x' OR uscc = 'y")
    assert len(quoted.rows) == 4
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.run_template(t.id, from_month=1)
    assert exc.value.code == "invalid_parameter"
    # Ad-hoc SQL on a templates-only table is refused.
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.sandbox_query(f"SELECT region, SUM(kwh) FROM {T} GROUP BY region")
    assert exc.value.code == "templates_only"
    # Templates still go through the gate: a provider template cannot leak identities.
    bad = w.provider.create_template(SLUG, "leaky", f"SELECT uscc, SUM(kwh) FROM {T} "
                                     "WHERE month = :m GROUP BY uscc",
                                     parameters={"m": "integer"})
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.run_template(bad.id, m=1)
    assert exc.value.code == "identity_not_allowed"
    stranger = orgs.new(["consumer"], "别家")
    with pytest.raises(ShuguAPIError) as exc:
        stranger.run_template(t.id, from_month=1, skip="x")
    assert exc.value.status == 403
    with pytest.raises(ShuguAPIError) as exc:
        stranger.templates(SLUG)
    assert exc.value.status == 403


def test_template_placeholders_must_be_declared(templated: World) -> None:
    with pytest.raises(ShuguAPIError) as exc:
        templated.provider.create_template(SLUG, "x", f"SELECT COUNT(*) FROM {T} "
                                           "WHERE month = :m")
    assert exc.value.code == "template_parameters"
    with pytest.raises(ShuguAPIError) as exc:
        templated.consumer.create_template(SLUG, "x", f"SELECT COUNT(*) FROM {T}")
    assert exc.value.code == "not_product_owner"


def test_date_parameters(orgs: Orgs) -> None:
    w = build(orgs)
    t = w.provider.create_template(SLUG, "since", f"SELECT COUNT(*) FROM {T} "
                                   "WHERE DATE '2024-01-01' >= :day", parameters={"day": "date"})
    got = w.consumer.run_template(t.id, day=dt.date(2023, 12, 31))
    assert got.rows == [[600]]  # aggregate mode: 舟山 (2 companies) is in no cell of k


def test_reviewed_query_runs_once(templated: World, orgs: Orgs) -> None:
    w = templated
    sql = f"SELECT industry, AVG(kwh) FROM {T} GROUP BY industry ORDER BY industry"
    r = w.consumer.submit_review(SLUG, sql, note="按行业看用电")
    assert r.status == "pending"
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.run_review(r.id)
    assert exc.value.code == "review_not_approved"
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.decide_review(r.id, True)
    assert exc.value.code == "not_product_owner"
    assert [x.id for x in w.provider.reviews(role="provider")] == [r.id]
    stranger = orgs.new(["provider", "consumer"], "别家")
    assert stranger.reviews(role="provider") == [] and stranger.reviews() == []
    with pytest.raises(ShuguAPIError) as exc:
        stranger.decide_review(r.id, True)
    assert exc.value.status == 404
    assert w.provider.decide_review(r.id, True, note="同意").status == "approved"
    got = w.consumer.run_review(r.id)
    assert got.query.review_id == r.id and len(got.rows) == 3
    with pytest.raises(ShuguAPIError) as exc:
        w.consumer.run_review(r.id)
    assert exc.value.code == "review_not_approved"
    assert w.consumer.reviews()[0].status == "used"
    actions = {e.action for e in w.provider.events().items}
    assert {"sandbox.review_submitted", "sandbox.review_approved"} <= actions


def test_rejected_review(templated: World) -> None:
    r = templated.consumer.submit_review(SLUG, f"SELECT COUNT(*) FROM {T}")
    templated.provider.decide_review(r.id, False, note="不批准")
    with pytest.raises(ShuguAPIError) as exc:
        templated.consumer.run_review(r.id)
    assert exc.value.code == "review_not_approved"
    with pytest.raises(ShuguAPIError) as exc:
        templated.provider.decide_review(r.id, True)
    assert exc.value.code == "review_decided"
