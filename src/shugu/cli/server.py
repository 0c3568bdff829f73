"""Commands that run the exchange on this machine: serve, demo, db upgrade."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from shugu.cli.options import DatabaseUrl, DataDir, Host, Port, settings_from
from shugu.config import Settings

console = Console()
err = Console(stderr=True)

def print_first_start(username: str, password: str, url: str) -> None:
    console.print(Panel.fit(
        f"The platform operator account was created (首次启动, 平台运营方).\n"
        f"  username: [bold]{username}[/bold]\n  password: [bold]{password}[/bold]  "
        f"(shown only this once)\n\nGet an API token:\n"
        f"  shugu --url {url} login {username}\n"
        f"or POST {url}/api/v1/auth/login with {{\"username\", \"password\"}}.",
        title="shugu first start", border_style="green"))


def bind(settings: Settings) -> socket.socket:
    """Take the listening socket before anything else happens, so that a port in use is
    one clear error (exit 1) instead of a "serving at" line followed by a traceback."""
    host, port = settings.host, settings.port
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        err.print(f"[red]error[/red] cannot listen on {host}:{port}: {reason}. Is another "
                  "server using the port? Choose one with --port or SHUGU_PORT.",
                  highlight=False)
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


def run_server(settings: Settings, exchange: object, sock: socket.socket) -> None:
    import uvicorn

    from shugu.app import create_app
    from shugu.runtime import Exchange

    assert isinstance(exchange, Exchange)
    config = uvicorn.Config(create_app(exchange), host=settings.host, port=settings.port,
                            log_level="info", proxy_headers=True)
    uvicorn.Server(config).run(sockets=[sock])


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(data_dir: DataDir = None, database_url: DatabaseUrl = None, host: Host = None,
              port: Port = None) -> None:
        """Start the exchange (REST API under /api/v1)."""
        from shugu.runtime import Exchange

        settings = settings_from(data_dir, database_url, host, port)
        sock = bind(settings)
        exchange = Exchange.open(settings)
        base = settings.base_url()
        if exchange.first_start:
            print_first_start(exchange.first_start.username, exchange.first_start.password, base)
        console.print(f"shugu serving at [bold]{base}[/bold]  (API docs: {base}/api/v1/docs; "
                      f"data: {settings.resolved_data_dir()})")
        run_server(settings, exchange, sock)

    @app.command()
    def demo(
        data_dir: Annotated[Path, typer.Option("--data-dir", help="demo data directory")] = Path(
            "shugu-demo"),
        database_url: DatabaseUrl = None, host: Host = None, port: Port = None,
        rows: Annotated[int, typer.Option(help="rows of the electricity demo table")] = 246_240,
        serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                            help="keep serving after seeding")] = True,
    ) -> None:
        """Start the exchange with demo participants and data, print what to open."""
        from shugu.demo.seed import seed
        from shugu.runtime import Exchange

        settings = settings_from(data_dir, database_url, host, port)
        sock = bind(settings) if serve else None  # before minutes of seeding, not after
        exchange = Exchange.open(settings)
        report = seed(exchange, rows=rows, console=console)
        base = settings.base_url()
        report.print(console, base, settings.resolved_data_dir(), serving=serve)
        if sock is not None:
            console.print(f"shugu demo serving at [bold]{base}[/bold] — Ctrl+C to stop")
            run_server(settings, exchange, sock)

    db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
    def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
        """Apply all database migrations (also done on every start)."""
        from shugu import db

        settings = settings_from(data_dir, database_url)
        settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
        db.upgrade(settings.resolved_database_url())
        console.print("database is at the latest schema")
