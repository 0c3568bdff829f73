"""Commands that talk to a running exchange through the SDK."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
