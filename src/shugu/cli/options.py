"""Options and settings shared by the commands that work on a local data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shugu.config import Settings

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="data directory (SHUGU_DATA_DIR)")]
DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL (SHUGU_DATABASE_URL); default: SQLite in the data dir")]
Host = Annotated[str | None, typer.Option("--host", help="interface to listen on")]
Port = Annotated[int | None, typer.Option("--port", help="TCP port")]


def settings_from(data_dir: Path | None = None, database_url: str | None = None,
                  host: str | None = None, port: int | None = None) -> Settings:
    """SHUGU_* settings, with the command line's options taking precedence."""
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    return Settings(**overrides)  # type: ignore[arg-type]
