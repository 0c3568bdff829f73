"""How a caller may steer ingestion; every field defaults to detection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class IngestOptions(BaseModel):
    format: Literal["auto", "csv", "parquet", "arrow"] = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None
