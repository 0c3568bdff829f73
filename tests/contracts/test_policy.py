"""Every policy constraint permits and denies, validation names the bad path, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shugu.contracts import policy
from shugu.contracts.policy import Context, evaluate, parse, parse_duration
from shugu.errors import InvalidInput
from shugu.identity.uscc import complete
from tests.contracts.conftest import make_policy, purpose, quota

BANK = complete("91330100MA1234567")
OTHER = complete("91330100MA7654321")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ctx(**kw: Any) -> Context:
    base: dict[str, Any] = {"org_id": 7, "uscc": BANK, "roles": ("consumer",),
                            "purpose": "credit_risk", "now": NOW}
    return Context(**{**base, **kw})


def rule(decision: policy.Decision, path: str) -> policy.RuleResult:
    [found] = [r for r in decision.rules if r.rule == path]
    return found


def c(left: str, op: str, right: Any, unit: str | None = None) -> dict[str, Any]:
    out = {"leftOperand": left, "operator": op, "rightOperand": right}
    if unit:
        out["unit"] = unit
    return out


P1 = "permission[0].constraint[1]"


@pytest.mark.parametrize(("constraint", "context", "allowed", "code"), [
    (purpose("credit_risk", "academic_research"), {}, True, "purpose_allowed"),
    (purpose("academic_research"), {}, False, "purpose_not_allowed"),
    (purpose("academic_research"), {"purpose": None}, False, "purpose_missing"),
    (c("purpose", "eq", "credit_risk"), {}, True, "purpose_allowed"),
    (c("purpose", "isNoneOf", ["marketing_analysis"]), {}, True, "purpose_allowed"),
    (c("purpose", "isNoneOf", ["credit_risk"]), {}, False, "purpose_not_allowed"),
    (c("dateTime", "lt", "2026-07-01T00:00:00+08:00"), {}, True, "window_open"),
    (c("dateTime", "lteq", "2026-05-01T00:00:00Z"), {}, False, "window_closed"),
    (c("dateTime", "gteq", "2026-07-01T00:00:00Z"), {}, True, "window_starts"),
    (c("dateTime", "gt", "2026-01-01T00:00:00Z"), {}, True, "window_starts"),
    (c("elapsedTime", "lteq", "P30D"), {}, True, "duration_limit"),
    (quota(10), {}, True, "quota"),
    (quota(10**9, "bytes"), {}, True, "quota"),
    (c("recipient", "isAnyOf", [BANK]), {}, True, "recipient_allowed"),
    (c("recipient", "isAnyOf", [7]), {}, True, "recipient_allowed"),
    (c("recipient", "isAnyOf", [OTHER, 8]), {}, False, "recipient_not_allowed"),
    (c("recipient", "isNoneOf", [BANK]), {}, False, "recipient_excluded"),
    (c("recipient", "isNoneOf", [OTHER]), {}, True, "recipient_allowed"),
    (c("recipientRole", "isAnyOf", ["consumer"]), {}, True, "role_allowed"),
    (c("recipientRole", "isAnyOf", ["broker"]), {}, False, "role_not_allowed"),
    (c("epsilon", "lteq", 1.5), {}, True, "privacy_budget"),
])
def test_each_constraint(constraint: dict[str, Any], context: dict[str, Any], allowed: bool,
                         code: str) -> None:
    decision = evaluate(make_policy(constraint), ctx(**context))
    assert decision.allowed is allowed
    r = rule(decision, P1)
    assert (r.outcome, r.code) == ("permit" if allowed else "deny", code)
    assert r.reason


def test_delivery_mode() -> None:
    both = make_policy(modes=["share", "sandbox"])
    assert rule(evaluate(both, ctx()), "permission[0].constraint[0]").code == "modes_granted"
    share_only = make_policy(modes=["share"])
    assert evaluate(share_only, ctx(mode="share")).allowed
    denied = evaluate(share_only, ctx(mode="sandbox"))
    assert not denied.allowed
    assert rule(denied, "permission[0].constraint[0]").code == "mode_not_allowed"


def test_duties_and_prohibitions_are_shown_and_enforced() -> None:
    p = make_policy(duty=True, prohibit=("distribute", "sell"))
    d = evaluate(p, ctx())
    assert d.allowed
    assert rule(d, "permission[0].duty[0]").outcome == "notice"
    assert rule(d, "prohibition[0]").code == "prohibited_distribute"
    assert rule(d, "prohibition[1]").outcome == "notice"
    resale = evaluate(p, ctx(action="sell"))
    assert not resale.allowed and rule(resale, "prohibition[1]").outcome == "deny"


def test_explanations_name_the_purpose_in_both_languages() -> None:
    r = rule(evaluate(make_policy(purpose("academic_research")), ctx()), P1)
    assert "信贷风控" in r.reason and "学术研究" in r.reason


@pytest.mark.parametrize(("raw", "path"), [
    ([], "policy"),
    ({"permission": []}, "permission"),
    ({"permission": [{"action": "use"}], "extra": 1}, "extra"),
    ({"@context": "http://example.com", "permission": [{"action": "use"}]}, "@context"),
    ({"permission": [{"action": "read"}]}, "permission[0].action"),
    ({"permission": [{"action": "use"}]}, "permission[0].constraint"),
    (make_policy(c("colour", "eq", "red")), f"{P1}.leftOperand"),
    (make_policy(c("purpose", "lt", ["credit_risk"])), f"{P1}.operator"),
    (make_policy(purpose("gambling")), f"{P1}.rightOperand[0]"),
    (make_policy(purpose()), f"{P1}.rightOperand"),
    (make_policy(purpose("credit_risk", "credit_risk")), f"{P1}.rightOperand"),
    (make_policy(modes=["download"]), "permission[0].constraint[0].rightOperand[0]"),
    (make_policy(c("dateTime", "lt", "2026-07-01T00:00:00")), f"{P1}.rightOperand"),
    (make_policy(c("dateTime", "lt", "tomorrow")), f"{P1}.rightOperand"),
    (make_policy(c("dateTime", "gteq", "2026-07-01T00:00:00Z"),
                 c("dateTime", "lt", "2026-06-01T00:00:00Z")), "permission[0].constraint[2]"),
    (make_policy(c("elapsedTime", "lteq", "30 days")), f"{P1}.rightOperand"),
    (make_policy(c("elapsedTime", "lteq", "P0D")), f"{P1}.rightOperand"),
    (make_policy(quota(10, "apples")), f"{P1}.unit"),
    (make_policy(c("count", "lteq", 10)), f"{P1}.unit"),
    (make_policy(quota(-1)), f"{P1}.rightOperand"),
    (make_policy(c("count", "lteq", 10.0, "queries")), f"{P1}.rightOperand"),
    (make_policy(c("count", "lteq", True, "queries")), f"{P1}.rightOperand"),
    (make_policy(quota(1), quota(2)), "permission[0].constraint[2]"),
    (make_policy(purpose("credit_risk"), purpose("academic_research")),
     "permission[0].constraint[2]"),
    (make_policy(c("recipient", "isAnyOf", ["91330100MA1234567X"])),
     f"{P1}.rightOperand[0]"),
    (make_policy(c("recipientRole", "isAnyOf", ["king"])), f"{P1}.rightOperand[0]"),
    (make_policy(c("epsilon", "lteq", 0)), f"{P1}.rightOperand"),
    (make_policy(c("epsilon", "lteq", "1")), f"{P1}.rightOperand"),
    (make_policy(c("purpose", "eq", "credit_risk", "rows")), f"{P1}.unit"),
    (make_policy(prohibit=("distribute", "distribute")), "prohibition[1]"),
    (make_policy(prohibit=("copy",)), "prohibition[0].action"),
])
def test_validation_names_the_bad_path(raw: Any, path: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(raw)
    assert info.value.code == "invalid_policy"
    assert info.value.details["path"] == path, info.value.message
    assert path in info.value.message


def test_delete_duty_with_grace_period() -> None:
    p = make_policy()
    p["permission"][0]["duty"] = [{"action": "delete", "constraint": [
        c("elapsedTime", "lteq", "P7D")]}]
    _, rules = parse(p)
    assert rules.delete_duty is not None and rules.delete_duty[0] is not None
    assert rules.delete_duty[0].text == "P7D"
    p["permission"][0]["duty"][0]["constraint"] = [quota(1)]
    with pytest.raises(InvalidInput) as info:
        parse(p)
    assert info.value.details["path"] == "permission[0].duty[0].constraint[0]"


def test_normalise_fills_the_context_and_type() -> None:
    stored = policy.normalise({"permission": [{"action": "use", "constraint": [
        c("deliveryMode", "eq", "sandbox")]}]})
    assert stored["@context"] == policy.ODRL_CONTEXT and stored["@type"] == "Offer"


@pytest.mark.parametrize(("text", "start", "end"), [
    ("P30D", "2026-01-31T00:00:00", "2026-03-02T00:00:00"),
    ("P1M", "2026-01-31T00:00:00", "2026-02-28T00:00:00"),
    ("P1M", "2028-01-31T00:00:00", "2028-02-29T00:00:00"),
    ("P1Y", "2028-02-29T00:00:00", "2029-02-28T00:00:00"),
    ("P1Y2M3DT4H5M6S", "2026-01-01T00:00:00", "2027-03-04T04:05:06"),
    ("P2W", "2026-01-01T00:00:00", "2026-01-15T00:00:00"),
    ("PT12H", "2026-01-01T00:00:00", "2026-01-01T12:00:00"),
    ("P11M", "2026-03-15T00:00:00", "2027-02-15T00:00:00"),
])
def test_durations(text: str, start: str, end: str) -> None:
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert parse_duration(text).after(begin) == datetime.fromisoformat(end).replace(tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1", "1D", "P1.5D", "P-1D", "P1DT", "P200Y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_window_ends_follow_the_earliest_rule() -> None:
    from shugu.contracts.agreements import window
    start = datetime(2026, 1, 10, tzinfo=UTC)
    _, rules = parse(make_policy(c("elapsedTime", "lteq", "P1Y"),
                                 c("dateTime", "lt", "2026-03-01T00:00:00Z")))
    assert window(rules, "one_time", None, start) == (start, datetime(2026, 3, 1, tzinfo=UTC))
    _, rules = parse(make_policy())
    assert window(rules, "subscription", "month", start) == (
        start, datetime(2026, 2, 10, tzinfo=UTC))
    assert window(rules, "subscription", "year", start)[1] == datetime(2027, 1, 10, tzinfo=UTC)
    assert window(rules, "per_query", None, start) == (start, None)
    _, rules = parse(make_policy(c("dateTime", "gteq", "2026-02-01T08:00:00+08:00"),
                                 c("elapsedTime", "lteq", "P10D")))
    begin = datetime(2026, 2, 1, tzinfo=UTC)
    assert window(rules, "subscription", "month", start) == (begin, begin + timedelta(days=10))
