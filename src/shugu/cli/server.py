"""Commands that run the exchange on this machine: serve, demo, db upgrade."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
