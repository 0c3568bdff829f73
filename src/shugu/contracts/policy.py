"""Usage policies in an ODRL-style JSON, their strict validation and explainable evaluation.

A policy has exactly one permission (action "use") whose constraints say how, why, when, by
whom and how much the product may be used, duties the consumer takes on (delete after the
agreement ends) and prohibitions (no redistribution or resale). See docs/contracts.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shugu.api.limits import INT32_MAX
from shugu.db import utcnow
from shugu.entitlements.models import MODES, QUOTA_KINDS
from shugu.errors import InvalidInput
from shugu.identity.models import ROLES
from shugu.identity.uscc import uscc_problem

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"

# Controlled purpose vocabulary: code -> (zh, en). The consumer adds free text.
PURPOSES: dict[str, tuple[str, str]] = {
    "credit_risk": ("信贷风控", "credit risk control"),
    "marketing_analysis": ("营销分析", "marketing analysis"),
    "academic_research": ("学术研究", "academic research"),
    "public_service": ("公共服务", "public service"),
    "internal_analytics": ("内部经营分析", "internal analytics"),
    "model_training": ("模型训练", "model training"),
    "other": ("其他", "other"),
}

# leftOperand -> the operators it accepts.
OPERATORS: dict[str, tuple[str, ...]] = {
    "deliveryMode": ("isAnyOf", "eq"),
    "purpose": ("isAnyOf", "eq", "isNoneOf"),
    "dateTime": ("gteq", "gt", "lt", "lteq"),
    "elapsedTime": ("lteq", "eq"),
    "count": ("lteq",),
    "recipient": ("isAnyOf", "isNoneOf"),
    "recipientRole": ("isAnyOf",),
    "epsilon": ("lteq",),
}
PROHIBITED_ACTIONS = ("distribute", "sell")
MAX_COUNT = 10**15
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Constraint(_Strict):
    leftOperand: str
    operator: str
    rightOperand: Any
    unit: str | None = None


class Duty(_Strict):
    action: Literal["delete"]
    constraint: list[Constraint] = Field(default_factory=list)


class Permission(_Strict):
    action: Literal["use"]
    constraint: list[Constraint] = Field(default_factory=list)
    duty: list[Duty] = Field(default_factory=list)


class Prohibition(_Strict):
    action: Literal["distribute", "sell"]


class Policy(_Strict):
    context: Literal["http://www.w3.org/ns/odrl.jsonld"] = Field(
        default=ODRL_CONTEXT, alias="@context")
    type: Literal["Offer", "Agreement", "Set"] = Field(default="Offer", alias="@type")
    uid: str | None = None
    target: str | None = None
    assigner: str | None = None
    assignee: str | None = None
    permission: list[Permission] = Field(min_length=1, max_length=1)
    prohibition: list[Prohibition] = Field(default_factory=list)


# -- durations ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration with calendar years and months kept apart from fixed time."""

    text: str
    months: int
    delta: timedelta

    def after(self, start: datetime) -> datetime:
        return add_months(start, self.months) + self.delta


def parse_duration(text: str) -> Duration:
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P30D, P1Y or PT12H")
    y, mo, w, d, h, mi, s = (int(g or 0) for g in m.groups())
    months = y * 12 + mo
    delta = timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)
    if months == 0 and delta == timedelta(0):
        raise ValueError(f"{text!r} is an empty duration")
    if months > 12 * 100 or delta > timedelta(days=36500):
        raise ValueError(f"{text!r} is longer than 100 years")
    return Duration(text, months, delta)


def add_months(start: datetime, months: int) -> datetime:
    """Calendar months, clamping the day (31 January + 1 month = 28/29 February)."""
    if months == 0:
        return start
    total = start.year * 12 + start.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    days = [31, 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28,
            31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return start.replace(year=year, month=month, day=min(start.day, days))


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (add Z or +08:00)")
    return when


# -- the validated, normalised view ---------------------------------------------------------

@dataclass
class Rules:
    """What a valid policy says, with the path of the constraint each part came from."""

    modes: tuple[list[str], str] | None = None
    purposes: tuple[str, list[str], str] | None = None  # (operator, codes, path)
    starts: tuple[datetime, str] | None = None
    ends: tuple[datetime, str] | None = None
    duration: tuple[Duration, str] | None = None
    quotas: dict[str, tuple[int, str]] = field(default_factory=dict)
    recipients: tuple[str, list[str | int], str] | None = None
    roles: tuple[list[str], str] | None = None
    epsilon: tuple[int | float, str] | None = None
    delete_duty: tuple[Duration | None, str] | None = None
    prohibited: list[tuple[str, str]] = field(default_factory=list)


def _bad(path: str, problem: str) -> InvalidInput:
    return InvalidInput(f"invalid policy at {path}: {problem}", code="invalid_policy",
                        path=path, problem=problem)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "policy"


def _string_list(c: Constraint, path: str, allowed: tuple[str, ...] | None = None
                 ) -> list[str]:
    value = c.rightOperand
    if c.operator == "eq":
        value = [value]
    if not isinstance(value, list) or not value:
        raise _bad(f"{path}.rightOperand", "must be a non-empty list")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _bad(f"{path}.rightOperand[{i}]", "must be a string")
        if allowed is not None and item not in allowed:
            raise _bad(f"{path}.rightOperand[{i}]",
                       f"{item!r} is not one of {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise _bad(f"{path}.rightOperand", "lists a value twice")
    return list(value)


def _once(current: object, path: str, name: str) -> None:
    if current is not None:
        raise _bad(path, f"a second {name} constraint (give it once)")


def _constraint(rules: Rules, c: Constraint, path: str) -> None:
    left = c.leftOperand
    if left not in OPERATORS:
        raise _bad(f"{path}.leftOperand",
                   f"{left!r} is not one of {', '.join(OPERATORS)}")
    if c.operator not in OPERATORS[left]:
        raise _bad(f"{path}.operator", f"{left} takes {' or '.join(OPERATORS[left])}, "
                   f"not {c.operator!r}")
    if c.unit is not None and left != "count":
        raise _bad(f"{path}.unit", f"{left} takes no unit")
    right = f"{path}.rightOperand"
    if left == "deliveryMode":
        _once(rules.modes, path, left)
        rules.modes = (_string_list(c, path, MODES), path)
    elif left == "purpose":
        _once(rules.purposes, path, left)
        rules.purposes = (c.operator, _string_list(c, path, tuple(PURPOSES)), path)
    elif left == "dateTime":
        try:
            when = _parse_datetime(c.rightOperand)
        except ValueError as exc:
            raise _bad(right, str(exc)) from None
        if c.operator in ("gteq", "gt"):
            _once(rules.starts, path, "start dateTime")
            rules.starts = (when, path)
        else:
            _once(rules.ends, path, "end dateTime")
            rules.ends = (when, path)
    elif left == "elapsedTime":
        _once(rules.duration, path, left)
        try:
            rules.duration = (parse_duration(c.rightOperand), path)
        except ValueError as exc:
            raise _bad(right, str(exc)) from None
    elif left == "count":
        if c.unit not in QUOTA_KINDS:
            raise _bad(f"{path}.unit", f"must be one of {', '.join(QUOTA_KINDS)}")
        if c.unit in rules.quotas:
            raise _bad(path, f"a second count constraint in {c.unit}")
        n = c.rightOperand
        if type(n) is not int or not 0 <= n <= MAX_COUNT:
            raise _bad(right, f"must be a whole number from 0 to {MAX_COUNT}")
        rules.quotas[c.unit] = (n, path)
    elif left == "recipient":
        _once(rules.recipients, path, left)
        value = c.rightOperand
        if not isinstance(value, list) or not value:
            raise _bad(right, "must be a non-empty list of USCCs or organisation ids")
        for i, item in enumerate(value):
            if type(item) is int and 0 < item <= INT32_MAX:
                continue
            problem = uscc_problem(item) if isinstance(item, str) else "not a USCC or id"
            if problem:
                raise _bad(f"{right}[{i}]", f"not a valid organisation: {problem}")
        rules.recipients = (c.operator, list(value), path)
    elif left == "recipientRole":
        _once(rules.roles, path, left)
        rules.roles = (_string_list(c, path, ROLES), path)
    elif left == "epsilon":
        _once(rules.epsilon, path, left)
        eps = c.rightOperand
        if type(eps) not in (int, float) or not 0 < eps <= 100:
            raise _bad(right, "must be a number greater than 0 and at most 100")
        rules.epsilon = (eps, path)


def parse(raw: Any) -> tuple[Policy, Rules]:
    """Validate a policy document; InvalidInput `invalid_policy` names the bad path."""
    if not isinstance(raw, dict):
        raise _bad("policy", "must be a JSON object")
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _bad(_path(tuple(first["loc"])), first["msg"]) from None
    rules = Rules()
    perm = policy.permission[0]
    for i, c in enumerate(perm.constraint):
        _constraint(rules, c, f"permission[0].constraint[{i}]")
    if rules.modes is None:
        raise _bad("permission[0].constraint",
                   "a deliveryMode constraint is required (share and/or sandbox)")
    if rules.starts and rules.ends and rules.ends[0] <= rules.starts[0]:
        raise _bad(rules.ends[1], "the window ends before it starts")
    for i, duty in enumerate(perm.duty):
        path = f"permission[0].duty[{i}]"
        _once(rules.delete_duty, path, "delete duty")
        grace: Duration | None = None
        for j, c in enumerate(duty.constraint):
            cpath = f"{path}.constraint[{j}]"
            if (c.leftOperand, c.operator) != ("elapsedTime", "lteq") or grace is not None:
                raise _bad(cpath, "a delete duty takes one elapsedTime lteq constraint "
                           "(time allowed after the agreement ends)")
            try:
                grace = parse_duration(c.rightOperand)
            except ValueError as exc:
                raise _bad(f"{cpath}.rightOperand", str(exc)) from None
        rules.delete_duty = (grace, path)
    seen: set[str] = set()
    for i, p in enumerate(policy.prohibition):
        if p.action in seen:
            raise _bad(f"prohibition[{i}]", f"{p.action} is prohibited twice")
        seen.add(p.action)
        rules.prohibited.append((p.action, f"prohibition[{i}]"))
    return policy, rules


def normalise(raw: Any) -> dict[str, Any]:
    """The stored form of a valid policy: defaults filled, nothing unknown."""
    policy, _ = parse(raw)
    return policy.model_dump(by_alias=True, exclude_none=True)


# -- evaluation ---------------------------------------------------------------------------

class RuleResult(BaseModel):
    rule: str = Field(description='path of the rule, e.g. "permission[0].constraint[2]"')
    outcome: Literal["permit", "deny", "notice"]
    code: str
    reason: str


class Decision(BaseModel):
    allowed: bool
    rules: list[RuleResult]

    def denials(self) -> list[RuleResult]:
        return [r for r in self.rules if r.outcome == "deny"]


@dataclass(frozen=True)
class Context:
    """Who asks, for what: the consumer organisation and its stated purpose."""

    org_id: int
    uscc: str
    roles: tuple[str, ...]
    purpose: str | None = None
    mode: str | None = None
    action: str = "use"
    now: datetime | None = None


def purpose_label(code: str) -> str:
    zh, en = PURPOSES.get(code, (code, code))
    return f"{code} ({zh} / {en})"


def evaluate(raw: Any, ctx: Context) -> Decision:
    """Every rule of the policy applied to the context; allowed when none denies."""
    _, rules = parse(raw)
    now = ctx.now or utcnow()
    out: list[RuleResult] = []

    def add(path: str, ok: bool | None, code: str, reason: str) -> None:
        outcome = "notice" if ok is None else ("permit" if ok else "deny")
        out.append(RuleResult(rule=path, outcome=outcome, code=code, reason=reason))

    if rules.recipients:
        op, allowed, path = rules.recipients
        listed = ctx.org_id in allowed or ctx.uscc in allowed
        if op == "isAnyOf":
            add(path, listed, "recipient_allowed" if listed else "recipient_not_allowed",
                "your organisation is named among those who may accept" if listed else
                "this offer is limited to named organisations and yours is not one of them")
        else:
            add(path, not listed, "recipient_excluded" if listed else "recipient_allowed",
                "your organisation is excluded from this offer" if listed else
                "your organisation is not among those excluded")
    if rules.roles:
        roles, path = rules.roles
        ok = bool(set(roles) & set(ctx.roles))
        add(path, ok, "role_allowed" if ok else "role_not_allowed",
            f"organisations holding the role {' or '.join(roles)} may accept; "
            + ("yours does" if ok else f"yours holds {', '.join(ctx.roles) or 'no role'}"))
    if rules.purposes:
        op, codes, path = rules.purposes
        labels = ", ".join(purpose_label(c) for c in codes)
        if ctx.purpose is None:
            add(path, False, "purpose_missing", f"state a purpose; allowed: {labels}")
        elif op == "isNoneOf":
            ok = ctx.purpose not in codes
            add(path, ok, "purpose_allowed" if ok else "purpose_not_allowed",
                f"purpose {purpose_label(ctx.purpose)} is "
                + ("not among the excluded ones" if ok else f"excluded ({labels})"))
        else:
            ok = ctx.purpose in codes
            add(path, ok, "purpose_allowed" if ok else "purpose_not_allowed",
                f"purpose {purpose_label(ctx.purpose)} is "
                + ("allowed" if ok else f"not allowed; allowed: {labels}"))
    if rules.modes:
        modes, path = rules.modes
        if ctx.mode is None:
            add(path, True, "modes_granted", f"delivery by {' and '.join(modes)}")
        else:
            ok = ctx.mode in modes
            add(path, ok, "mode_allowed" if ok else "mode_not_allowed",
                f"delivery by {ctx.mode} is " + ("allowed" if ok else
                                                 f"not allowed; allowed: {', '.join(modes)}"))
    if rules.starts:
        start, path = rules.starts
        add(path, True, "window_starts",
            f"use is allowed from {start.isoformat()}" + (" (not yet begun)" if now < start
                                                          else ""))
    if rules.ends:
        end, path = rules.ends
        ok = now < end
        add(path, ok, "window_open" if ok else "window_closed",
            f"use is allowed until {end.isoformat()}" + ("" if ok else ", which has passed"))
    if rules.duration:
        d, path = rules.duration
        add(path, True, "duration_limit", f"use ends {d.text} after the agreement starts")
    for unit, (n, path) in rules.quotas.items():
        add(path, True, "quota", f"at most {n} {unit}")
    if rules.epsilon:
        eps, path = rules.epsilon
        add(path, True, "privacy_budget", f"differential-privacy budget ε ≤ {eps} "
            "(spent by sandbox queries)")
    if rules.delete_duty:
        grace, path = rules.delete_duty
        add(path, None, "duty_delete", "you must delete the data when the agreement ends"
            + (f" (within {grace.text})" if grace else "") + " and confirm it")
    for action, path in rules.prohibited:
        if ctx.action == action:
            add(path, False, f"prohibited_{action}", f"{action} is prohibited by this policy")
        else:
            add(path, None, f"prohibited_{action}",
                "you may not " + ("redistribute the data to others" if action == "distribute"
                                  else "resell the data"))
    out.sort(key=_document_order)
    return Decision(allowed=not any(r.outcome == "deny" for r in out), rules=out)


def _document_order(r: RuleResult) -> tuple[int, int]:
    """Rules in the order the policy states them: constraints, duties, prohibitions."""
    section = 0 if ".constraint[" in r.rule else 1 if ".duty[" in r.rule else 2
    return section, int(r.rule.rsplit("[", 1)[1].rstrip("]"))
