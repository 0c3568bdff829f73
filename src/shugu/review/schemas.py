"""API shapes of listing review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shugu.api.limits import IdRef, Note


class Split(BaseModel):
    """Revenue split of a listing in basis points (1/100 of a percent), summing to 10000."""

    provider_bp: int = Field(default=9000, ge=0, le=10_000)
    platform_bp: int = Field(default=1000, ge=0, le=10_000)
    broker_org_id: IdRef | None = None
    broker_bp: int = Field(default=0, ge=0, le=10_000)


class ApproveIn(BaseModel):
    split: Split = Field(default_factory=Split)
    note: str | None = Field(default=None, max_length=2000)


class RejectIn(BaseModel):
    reasons: list[Note] = Field(default_factory=list, max_length=50)
    note: str | None = Field(default=None, max_length=2000)


class DelistIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


class ListingOut(BaseModel):
    id: int
    product: str
    product_status: str
    status: str
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    table_versions: dict[str, int] | None = None
    risk_grade: str | None = None
    personal_information: list[str] | None = None
    compliance: dict[str, Any] | None = None
    compliance_sha256: str | None = None
    quality: dict[str, Any] | None = None
    quality_sha256: str | None = None
    quality_score: float | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reasons: list[str] = Field(default_factory=list)
    note: str | None = None
    split: Split | None = None
    delisted_by: str | None = None
    delisted_at: datetime | None = None
    delist_reason: str | None = None
