"""API shapes of entitlements."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shugu.api.limits import NAME_MAX, NOTE_MAX, Count, IdRef

Mode = Literal["share", "sandbox"]


class Quotas(BaseModel):
    queries: Count | None = None
    rows: Count | None = None
    bytes: Count | None = None
    downloads: Count | None = None


class EntitlementIn(BaseModel):
    consumer_org_id: IdRef
    product: str = Field(max_length=NAME_MAX, description="product slug")
    modes: list[Mode] = Field(min_length=1)
    valid_from: AwareDatetime | None = Field(default=None, description="default: now")
    valid_until: AwareDatetime | None = None
    quotas: Quotas = Field(default_factory=Quotas)
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class EntitlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    consumer_org_id: int
    product: str
    provider_org_id: int
    modes: list[str]
    valid_from: datetime
    valid_until: datetime | None
    quotas: Quotas
    used: Quotas
    source: str
    agreement_id: int | None
    plan: str | None = Field(default=None, description="the agreement's price plan; null for "
                             "a direct grant")
    unit_price_fen: int | None = Field(default=None, description="the plan's price per unit")
    note: str | None
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    live: bool


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ProfileIn(BaseModel):
    name: str = Field(default="delta-sharing profile", min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class Profile(BaseModel):
    """A Delta Sharing profile file, version 1 (bearer token)."""

    shareCredentialsVersion: int = 1
    endpoint: str
    bearerToken: str
    expirationTime: str | None = None
