"""The `shugu` command."""

from __future__ import annotations

import typer

from shugu.cli import billing, contracts, ledger, listing, remote, rights, sandbox, server

app = typer.Typer(help="shugu (数谷): a trusted data exchange.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
server.register(app)
remote.register(app)
contracts.register(app)
billing.register(app)
rights.register(app)
app.add_typer(ledger.app, name="ledger", help="Verify and export the tamper-evident ledger.")
listing.register(app)
app.add_typer(sandbox.app, name="sandbox", help="Sandbox computation (数据可用不可见).")


def main() -> None:
    app()
