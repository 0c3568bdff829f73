"""API shapes of metering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entitlement_id: int
    consumer_org_id: int
    product_id: int
    kind: str
    quantity: int
    detail: dict[str, Any]
    ts: datetime
