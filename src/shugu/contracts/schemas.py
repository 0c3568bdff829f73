"""API shapes of offers, negotiations and agreements. Money is integer fen (StrictInt:
a JSON number with a fraction, or any float, is refused rather than rounded)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from shugu.api.limits import IdRef
from shugu.contracts.money import MAX_FEN
from shugu.contracts.policy import Decision, RuleResult

Plan = Literal["one_time", "subscription", "per_query", "per_1000_rows", "per_gb"]
Period = Literal["month", "year"]
Fen = StrictInt

__all__ = ["Decision", "RuleResult"]


class OfferIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    plan: Plan
    period: Period | None = None
    price_fen: Fen = Field(ge=0, le=MAX_FEN)
    visibility: Literal["public", "private"] = "public"
    private_org_id: IdRef | None = None
    approval: Literal["instant", "manual"] = "instant"
    policy: dict[str, Any]


class OfferOut(BaseModel):
    id: int
    product: str
    provider_org_id: int
    title: str
    description: str | None
    plan: str
    period: str | None
    price_fen: int
    price_yuan: str
    visibility: str
    private_org_id: int | None
    approval: str
    policy: dict[str, Any]
    status: str
    created_at: datetime
    withdrawn_at: datetime | None


class EvaluateIn(BaseModel):
    purpose: str | None = Field(default=None, max_length=50)
    mode: Literal["share", "sandbox"] | None = None


class TermsIn(BaseModel):
    """A (counter-)proposal. Fields left out keep the proposal on the table; giving `plan`
    replaces `period` too (send the period with a subscription)."""

    plan: Plan | None = None
    period: Period | None = None
    price_fen: Fen | None = Field(default=None, ge=0, le=MAX_FEN)
    policy: dict[str, Any] | None = None


class NegotiationIn(BaseModel):
    offer_id: IdRef
    purpose: str = Field(min_length=1, max_length=50)
    purpose_text: str | None = Field(default=None, max_length=2000)
    terms: TermsIn | None = Field(default=None, description="counter-proposal; omit to take "
                                  "the offer as it stands")


class CounterIn(BaseModel):
    terms: TermsIn
    note: str | None = Field(default=None, max_length=2000)


class MessageIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class TerminateIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class StepOut(BaseModel):
    seq: int
    message: str
    from_state: str | None
    to_state: str
    side: str
    actor: str
    terms: dict[str, Any] | None
    note: str | None
    ts: datetime


class NegotiationOut(BaseModel):
    id: int
    offer_id: int
    product: str
    provider_org_id: int
    consumer_org_id: int
    state: str
    purpose: str
    purpose_text: str | None
    terms: dict[str, Any]
    proposed_by: str
    termination_reason: str | None
    agreement_id: int | None
    created_at: datetime
    updated_at: datetime
    steps: list[StepOut] = Field(default_factory=list)


class AgreementOut(BaseModel):
    id: int
    number: str
    negotiation_id: int
    offer_id: int
    product: str
    provider_org_id: int
    consumer_org_id: int
    plan: str
    period: str | None
    price_fen: int
    terms: dict[str, Any]
    terms_hash: str
    valid_from: datetime
    valid_until: datetime | None
    entitlement_id: int | None
    status: str
    live: bool
    created_at: datetime
    terminated_at: datetime | None
    termination_reason: str | None
    deletion_duty: Literal["none", "not_due", "due", "fulfilled"]
    deletion_confirmed_at: datetime | None
