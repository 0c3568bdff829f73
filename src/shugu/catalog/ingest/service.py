"""Ingestion into Delta tables (being filled in by the ingestion work)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.schemas import IngestOut
from shugu.identity.principal import Principal
from shugu.runtime import Exchange


def ingest_file(
    ex: Exchange, principal: Principal, slug: str, table: str, path: Path, *,
    mode: Literal["append", "overwrite"], options: IngestOptions, source_name: str | None,
) -> IngestOut:
    raise NotImplementedError
