"""The provider pages' form handling: from posted fields to the domain's own input shapes,
and the small view helpers (rules template, bar charts). Pure functions, no database.

Forms are read with the standard library (first value of each field), so every checkbox
has its own name (`mode_share`, `purpose_credit_risk`, `right_holding`, ...)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, TypeVar

from pydantic import BaseModel

from shugu.billing.periods import CST
from shugu.catalog import schemas as catalog
from shugu.contracts import policy
from shugu.contracts import schemas as contracts
from shugu.contracts.money import yuan_to_fen
from shugu.entitlements.models import MODES, QUOTA_KINDS
from shugu.errors import InvalidInput
from shugu.portal import pages
from shugu.rights import schemas as rights

M = TypeVar("M", bound=BaseModel)

FREQUENCIES = ("realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly",
               "irregular", "static")
PLANS = ("one_time", "subscription", "per_query", "per_1000_rows", "per_gb")
RIGHTS = ("holding", "processing_use", "operation")
NUMERIC = re.compile(r"^(byte|short|integer|long|float|double|decimal.*)$")
IDENTITY_HINT = re.compile(r"(^id$|_id$|^id_|uscc|code|account|customer|user)", re.I)
TIME_HINT = re.compile(r"(year|quarter|month|week|day|date|period|time)", re.I)


validated = pages.validated


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"the {what} is not valid JSON: {exc}", code="invalid_json") from None


# -- products and tables ------------------------------------------------------------------

def product_in(form: dict[str, str]) -> catalog.ProductIn:
    tags = [t.strip() for t in re.split(r"[,，]", form.get("tags", "")) if t.strip()]
    data: dict[str, Any] = {"slug": form.get("slug", "").strip(),
                            "title_zh": form.get("title_zh", "").strip(), "tags": tags}
    for name in ("title_en", "description_zh", "description_en", "category",
                 "update_frequency", "data_source", "scenario"):
        data[name] = _text(form, name)
    data["sample_rows"] = form.get("sample_rows", "").strip() or 0
    return validated(catalog.ProductIn, data)


def table_in(form: dict[str, str]) -> catalog.TableIn:
    partition = [p.strip() for p in form.get("partition_by", "").split(",") if p.strip()]
    return validated(catalog.TableIn, {"name": form.get("name", "").strip(),
                                       "description": _text(form, "description"),
                                       "partition_by": partition})


# -- offers and their usage policy ----------------------------------------------------------

def _whole(form: dict[str, str], name: str) -> int | None:
    return pages.whole_number(form.get(name), name, code="invalid_quota", minimum=0)


def _epsilon(text: str) -> int | float:
    try:
        number = float(text)
    except ValueError:
        raise InvalidInput(f"epsilon: {text!r} is not a number", code="invalid_policy",
                           field="epsilon") from None
    return int(number) if number.is_integer() and "." not in text else number


def policy_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The ODRL-style policy the simple form describes (the same shape the CLI builds from
    its flags), or the pasted JSON as it is; contracts.policy validates either."""
    raw = form.get("policy_json", "").strip()
    if raw:
        loaded = parse_json(raw, "policy")
        if not isinstance(loaded, dict):
            raise InvalidInput("the policy must be a JSON object", code="invalid_policy")
        return loaded
    modes = [m for m in MODES if form.get(f"mode_{m}")]
    constraints: list[dict[str, Any]] = [
        {"leftOperand": "deliveryMode", "operator": "isAnyOf", "rightOperand": modes}]
    purposes = [p for p in policy.PURPOSES if form.get(f"purpose_{p}")]
    if purposes:
        constraints.append({"leftOperand": "purpose", "operator": "isAnyOf",
                            "rightOperand": purposes})
    if duration := _text(form, "valid_for"):
        constraints.append({"leftOperand": "elapsedTime", "operator": "lteq",
                            "rightOperand": duration})
    for kind in QUOTA_KINDS:
        n = _whole(form, f"quota_{kind}")
        if n is not None:
            constraints.append({"leftOperand": "count", "operator": "lteq",
                                "rightOperand": n, "unit": kind})
    if eps := _text(form, "epsilon"):
        constraints.append({"leftOperand": "epsilon", "operator": "lteq",
                            "rightOperand": _epsilon(eps)})
    permission: dict[str, Any] = {"action": "use", "constraint": constraints}
    if form.get("delete_after"):
        permission["duty"] = [{"action": "delete"}]
    prohibitions = [{"action": a} for a in policy.PROHIBITED_ACTIONS
                    if form.get(f"prohibit_{a}")]
    return {"@context": policy.ODRL_CONTEXT, "@type": "Offer", "permission": [permission],
            "prohibition": prohibitions}


def offer_in(form: dict[str, str]) -> contracts.OfferIn:
    """Price in yuan parsed exactly as the CLI's --price (contracts.money.yuan_to_fen)."""
    price = form.get("price", "").strip()
    if not price:
        raise InvalidInput("give the price in yuan, e.g. 12.50", code="invalid_amount")
    private = form.get("visibility") == "private"
    org = _text(form, "private_org_id")
    if org is not None and not org.isdigit():
        raise InvalidInput(f"{org!r} is not an organisation id", code="invalid_private_org")
    data = {"title": form.get("title", "").strip(), "description": _text(form, "description"),
            "plan": form.get("plan", ""), "period": _text(form, "period"),
            "price_fen": yuan_to_fen(price), "visibility": "private" if private else "public",
            "private_org_id": int(org) if private and org else None,
            "approval": "manual" if form.get("approval") == "manual" else "instant",
            "policy": policy_from_form(form)}
    policy.normalise(data["policy"])  # the stable invalid_policy code, before the model
    return validated(contracts.OfferIn, data)


# -- registrations -------------------------------------------------------------------------

def registration_in(slug: str, form: dict[str, str]) -> rights.RegistrationIn:
    revision = form.get("revision", "").strip()
    data: dict[str, Any] = {
        "kind": "initial", "product": slug,
        "revision": int(revision) if revision.isdigit() else None,
        "rights": [r for r in RIGHTS if form.get(f"right_{r}")],
        "source_kind": _text(form, "source_kind")}
    for name in ("data_name", "source_description", "algorithm_rules", "scenario",
                 "update_period"):
        data[name] = _text(form, name)
    return validated(rights.RegistrationIn, data)


# -- analysis rules --------------------------------------------------------------------------

def rules_template(columns: list[dict[str, Any]]) -> dict[str, Any]:
    """A sensible first set of rules from the table's columns: one identity (a column that
    looks like an id, else the first), text and time columns (year, month, day, …) as
    dimensions, other numbers aggregatable through COUNT, SUM and AVG, aggregate mode with
    k = 10. The provider edits it."""
    names = [str(c["name"]) for c in columns]
    if not names:
        return {}
    identity = next((n for n in names if IDENTITY_HINT.search(n)), names[0])
    rules: dict[str, Any] = {}
    for c in columns:
        name = str(c["name"])
        if name == identity:
            rules[name] = {"role": "identity"}
        elif NUMERIC.match(str(c.get("type", ""))) and not TIME_HINT.search(name):
            rules[name] = {"role": "aggregatable", "functions": ["COUNT", "SUM", "AVG"]}
        else:
            rules[name] = {"role": "dimension"}
    return {"mode": "aggregate", "min_identities": 10, "columns": rules}


# -- charts ---------------------------------------------------------------------------------

def bar_chart(points: list[tuple[str, int]], width: int = 480, height: int = 160,
              text: Callable[[int], str] = lambda v: f"{v:,}") -> dict[str, Any]:
    """Geometry of a server-rendered SVG bar chart (the template draws it): one bar per
    (label, value), scaled to the largest value; integers only, no float in the data.
    Each value is written upright above its bar (turned 90°), so wide amounts neither
    overlap their neighbours nor run off the chart; the top margin is made to fit the
    longest of them."""
    top = max((v for _, v in points), default=0)
    texts = [text(v) if v else "" for _, v in points]
    left, bottom, gap = 8, 20, 4
    # ~6.5 px per character at the chart's 11 px font, plus a little air.
    top_margin = max(14, round(6.5 * max((len(t) for t in texts), default=0)) + 8)
    inner_h = max(height - bottom - top_margin, 20)
    height = inner_h + bottom + top_margin
    slot = (width - left * 2) / max(len(points), 1)
    bars = []
    for i, ((label, value), shown) in enumerate(zip(points, texts, strict=True)):
        h = round(inner_h * value / top) if top else 0
        x = left + i * slot
        bars.append({"label": label, "value": value, "text": shown, "x": round(x + gap / 2, 1),
                     "w": round(slot - gap, 1), "y": height - bottom - h, "h": h,
                     "cx": round(x + slot / 2, 1)})
    return {"width": width, "height": height, "base": height - bottom, "bars": bars,
            "max": top}


# -- registrations on a held certificate, and pledges -------------------------------------

LATER_KINDS = ("licence", "transfer", "change", "cancellation")


def _day(form: dict[str, str], name: str, *, end: bool, required: bool = False
         ) -> datetime | None:
    """A date field (YYYY-MM-DD, read in China Standard Time: the day's first second, or its
    last when the date ends a term) or a full ISO 8601 time with its offset."""
    text = form.get(name, "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{name} is required (YYYY-MM-DD)", code="missing_field",
                               field=name)
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = time(23, 59, 59) if end else time(0, 0)
            return datetime.combine(day, moment, tzinfo=CST)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a date (YYYY-MM-DD)", code="invalid_date",
                           field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=CST)


def later_registration_in(kind: str, number: str, form: dict[str, str],
                          counterparty_org_id: int | None) -> rights.RegistrationIn:
    """A licence, transfer, change or cancellation of certificate `number`; the counterparty
    already resolved from what the provider typed (provider_access.find_org)."""
    if kind not in LATER_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(LATER_KINDS)}",
                           code="invalid_kind")
    revision = form.get("revision", "").strip()
    data: dict[str, Any] = {"kind": kind, "certificate": number,
                            "rights": [r for r in RIGHTS if form.get(f"right_{r}")],
                            "counterparty_org_id": counterparty_org_id,
                            "licence_scope": _text(form, "licence_scope"),
                            "licence_until": _day(form, "licence_until", end=True),
                            "reason": _text(form, "reason")}
    if kind == "change":
        if not revision.isdigit():
            raise InvalidInput("choose the new revision", code="missing_field",
                               field="revision")
        data["revision"] = int(revision)
    if kind == "licence" and not data["licence_scope"]:
        raise InvalidInput("describe what the licence allows", code="missing_field",
                           field="licence_scope")
    if kind in ("change", "cancellation") and not data["reason"]:
        raise InvalidInput(f"a {kind} needs a reason", code="missing_field", field="reason")
    return validated(rights.RegistrationIn, data)


def counter_in(form: dict[str, str]) -> contracts.CounterIn:
    """A provider's counter-offer: the new price in yuan (contracts.money.yuan_to_fen) and a
    note; the plan and the policy on the table stay as they are."""
    price = form.get("price", "").strip()
    if not price:
        raise InvalidInput("give the new price in yuan, e.g. 12.50", code="invalid_amount")
    return validated(contracts.CounterIn, {"terms": {"price_fen": yuan_to_fen(price)},
                                           "note": _text(form, "note")})


def pledge_in(form: dict[str, str], pledgee_org_id: int) -> rights.PledgeIn:
    """The secured amount in yuan, parsed exactly (contracts.money.yuan_to_fen)."""
    amount = form.get("amount", "").strip()
    if not amount:
        raise InvalidInput("give the secured amount in yuan, e.g. 500000", code="invalid_amount")
    fen = yuan_to_fen(amount)
    if fen <= 0:
        raise InvalidInput("the secured amount must be more than zero", code="invalid_amount")
    return validated(rights.PledgeIn, {
        "pledgee_org_id": pledgee_org_id, "amount_fen": fen,
        "term_start": _day(form, "term_start", end=False),
        "term_end": _day(form, "term_end", end=True, required=True),
        "note": _text(form, "note")})
