"""API shapes of the catalog domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shugu.api.limits import DESCRIPTION_MAX, LONG_TEXT_MAX, NAME_MAX, NOTE_MAX, Tag

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$"
# A table's name is its directory under the product's: a lower-case ASCII letter first (no
# "_delta_log", no hidden or dot names, no path separators or lookalike characters, no two
# names that differ only by case), at most 63 characters like a PostgreSQL identifier.
TABLE_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
SAMPLE_MAX_ROWS = 20
UpdateFrequency = Literal[
    "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular", "static"
]


class ProductIn(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and hyphens")
    title_zh: str = Field(min_length=1, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    description_zh: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    description_en: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    category: str | None = Field(default=None, max_length=100)
    update_frequency: UpdateFrequency | None = None
    data_source: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    scenario: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    sample_rows: int = Field(default=0, ge=0, le=SAMPLE_MAX_ROWS,
                             description="rows per table others may preview (0: none)")


class ProductPatch(BaseModel):
    title_zh: str | None = Field(default=None, min_length=1, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    description_zh: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    description_en: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    category: str | None = Field(default=None, max_length=100)
    update_frequency: UpdateFrequency | None = None
    data_source: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    scenario: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    sample_rows: int | None = Field(default=None, ge=0, le=SAMPLE_MAX_ROWS)


class ColumnOut(BaseModel):
    name: str
    type: str
    nullable: bool = True


class TableIn(BaseModel):
    name: str = Field(pattern=TABLE_PATTERN,
                      description="lower-case ASCII identifier starting with a letter, "
                      "at most 63 characters")
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    partition_by: list[Annotated[str, Field(max_length=NAME_MAX)]] = Field(
        default_factory=list, max_length=20)


class TableOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    current_version: int | None
    columns: list[ColumnOut] = Field(default_factory=list)
    partition_by: list[str]
    row_count: int
    created_at: datetime


class ProductOut(BaseModel):
    id: int
    slug: str
    provider_org_id: int
    provider_name: str
    title_zh: str
    title_en: str | None
    description_zh: str | None
    description_en: str | None
    tags: list[str]
    category: str | None
    update_frequency: str | None
    data_source: str | None
    scenario: str | None
    sample_rows: int = 0
    status: str
    created_at: datetime
    updated_at: datetime
    tables: list[TableOut] = Field(default_factory=list)


class TableSampleOut(BaseModel):
    name: str
    version: int
    columns: list[str] = Field(description="the columns shown (identity, join-key and "
                               "never-output columns of the analysis rules are left out)")
    withheld_columns: list[str] = Field(default_factory=list)
    rows: list[list[str | None]] = Field(description="values as text")


class SampleOut(BaseModel):
    slug: str
    rows_per_table: int
    tables: list[TableSampleOut] = Field(default_factory=list)


class IngestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    table: str
    version: int
    mode: str
    source_format: str
    source_name: str | None
    source_sha256: str
    source_bytes: int
    rows: int
    encoding: str | None
    created_at: datetime
    columns: list[ColumnOut] = Field(default_factory=list)
    added_columns: list[str] = Field(default_factory=list)
    renamed_columns: dict[str, str] = Field(default_factory=dict)


class RevisionIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    tables: list[Annotated[str, Field(max_length=NAME_MAX)]] | None = Field(
        default=None, max_length=1000,
        description="tables to include at their current version; default: all"
    )


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int
    name: str
    note: str | None
    table_versions: dict[str, int]
    status: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ProductHit(BaseModel):
    slug: str
    title_zh: str
    title_en: str | None
    provider_org_id: int
    provider_name: str
    category: str | None
    tags: list[str]
    score: int
