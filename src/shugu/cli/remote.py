"""Commands that talk to a running exchange through the SDK (`--url`, `--token`)."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import BaseModel
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from shugu.client import Client, ShuguAPIError

console = Console()
err = Console(stderr=True)


class Remote:
    url: str = "http://127.0.0.1:8000"
    token: str | None = None
    as_json: bool = False


state = Remote()
# Columns holding identifiers that a reader copies: printed whole, whatever the width.
KEY_COLUMNS = frozenset({"slug", "id", "number", "product", "certificate", "voucher_number",
                         "invoice_number"})
MIN_FOLDED = 4


@contextmanager
def client() -> Iterator[Client]:
    """An SDK client; API errors become one clear line and exit code 1."""
    c = Client(state.url, state.token)
    try:
        yield c
    except ShuguAPIError as exc:
        err.print(f"[red]error[/red] {escape(f'[{exc.code}] {exc.message}')}")
        raise typer.Exit(1) from None
    except httpx.ConnectError:
        err.print(f"[red]error[/red] cannot reach shugu at {state.url} (is `shugu serve` "
                  "running? set --url or SHUGU_URL)")
        raise typer.Exit(1) from None
    finally:
        c.close()


def show(value: BaseModel | list[BaseModel], columns: list[str] | None = None) -> None:
    """Print a result: JSON with --json, otherwise a table or key/value list."""
    if state.as_json:
        if isinstance(value, list):
            sys.stdout.write(json.dumps([v.model_dump(mode="json") for v in value],
                                        ensure_ascii=False, indent=2) + "\n")
        else:
            sys.stdout.write(value.model_dump_json(indent=2) + "\n")
        return
    rows = value if isinstance(value, list) else None
    if rows is None:
        assert isinstance(value, BaseModel)
        for key, item in value.model_dump(mode="json").items():
            console.print(f"[bold]{key}[/bold]: {_cell(item)}")
        return
    if not rows:
        console.print("(none)")
        return
    names = columns or list(rows[0].model_dump().keys())
    cells = [[_cell(row.model_dump(mode="json").get(n)) for n in names] for row in rows]
    # Identifiers (slugs, numbers) are what a reader copies into the next command: never
    # cut. Other columns fold; if even that cannot fit the terminal, one block per row.
    keys = [i for i, n in enumerate(names) if n in KEY_COLUMNS]
    widths = [max(cell_len(n), *(cell_len(line[i]) for line in cells)) for i, n in
              enumerate(names)]
    need = sum(widths[i] for i in keys) + MIN_FOLDED * (len(names) - len(keys)) \
        + 3 * len(names) + 1
    if need > console.width:
        for i, line in enumerate(cells):
            if i:
                console.print()
            for name, cell in zip(names, line, strict=True):
                console.print(f"[bold]{name}[/bold]: {escape(cell)}", soft_wrap=True,
                              highlight=False)
        return
    table = Table()
    for i, name in enumerate(names):
        if i in keys:
            table.add_column(name, no_wrap=True, min_width=widths[i])
        else:
            table.add_column(name, overflow="fold")
    for line in cells:
        table.add_row(*line)
    console.print(table)


def as_utc(value: datetime | None) -> datetime | None:
    """A time typed on the command line without a zone is read as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _cell(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _secret(label: str, secret: str) -> None:
    if not state.as_json:
        console.print(f"[bold green]{label}[/bold green] (shown only once): [bold]{secret}[/bold]")


def _read_password() -> str:
    """Prompt on the terminal; from a pipe (scripts, `echo $PW | shugu login NAME`), the
    first line of standard input."""
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("password: ")


def register(app: typer.Typer) -> None:
    @app.callback()
    def _options(
        url: Annotated[str, typer.Option(envvar="SHUGU_URL", help="server URL")] = state.url,
        token: Annotated[str | None, typer.Option(envvar="SHUGU_TOKEN",
                                                  help="API token")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        state.url, state.token, state.as_json = url, token, as_json

    @app.command()
    def login(username: str, password: Annotated[str | None, typer.Option(
            help="password (prompted when omitted; read from standard input when that is "
                 "not a terminal)")] = None,
              print_token: Annotated[bool, typer.Option(
                  "--print-token", help="print only the token, for "
                  "export SHUGU_TOKEN=$(shugu login NAME --print-token)")] = False,
              ) -> None:
        """Exchange a username and password for an API token."""
        password = password or _read_password()
        with client() as c:
            created = c.login(username, password)
        if print_token:
            sys.stdout.write(created.secret + "\n")
            return
        show(created.token)
        _secret("token", created.secret)
        if not state.as_json:
            console.print("use it with --token or export SHUGU_TOKEN=...")

    org = typer.Typer(no_args_is_help=True, help="Organisations (operator).")
    app.add_typer(org, name="org")

    @org.command("create")
    def org_create(
        uscc: Annotated[str, typer.Option(help="统一社会信用代码")],
        name: Annotated[str, typer.Option(help="legal name")],
        roles: Annotated[str, typer.Option(help="comma-separated: provider,consumer,...")],
        admin: Annotated[str, typer.Option(help="username of the organisation's admin")],
        name_en: Annotated[str | None, typer.Option()] = None,
        print_token: Annotated[bool, typer.Option(
            "--print-token", help="print only the admin's API token, for "
            "export TOKEN=$(shugu org create ... --print-token)")] = False,
    ) -> None:
        """Register an organisation with its first admin user and token."""
        with client() as c:
            created = c.create_organization(uscc, name, [r.strip() for r in roles.split(",")],
                                            admin, name_en=name_en)
        if print_token:
            sys.stdout.write(created.token.secret + "\n")
            if created.admin_password:
                err.print(f"password of {created.admin.username} (shown only once): "
                          f"{created.admin_password}", highlight=False)
            return
        show(created.organization)
        if created.admin_password:
            _secret(f"password of {created.admin.username}", created.admin_password)
        _secret("admin API token", created.token.secret)

    @org.command("list")
    def org_list(role: Annotated[str | None, typer.Option()] = None) -> None:
        with client() as c:
            show(list(_all(lambda t: c.list_organizations(role=role, page_token=t))),
                 ["id", "uscc", "name", "roles"])

    token = typer.Typer(no_args_is_help=True, help="API tokens.")
    app.add_typer(token, name="token")

    @token.command("create")
    def token_create(name: str, days: Annotated[int | None, typer.Option(
            help="lifetime in days")] = None) -> None:
        """Create an API token for yourself."""
        with client() as c:
            created = c.create_token(name, expires_in_days=days)
        show(created.token)
        _secret("token", created.secret)

    @token.command("list")
    def token_list() -> None:
        with client() as c:
            show(c.list_tokens(), ["id", "name", "user_id", "created_at", "expires_at",
                                   "revoked_at"])

    @token.command("revoke")
    def token_revoke(token_id: int) -> None:
        with client() as c:
            show(c.revoke_token(token_id))

    product = typer.Typer(no_args_is_help=True, help="Data products.")
    app.add_typer(product, name="product")

    @product.command("create")
    def product_create(
        slug: str,
        title_zh: Annotated[str, typer.Option("--title-zh")],
        title_en: Annotated[str | None, typer.Option("--title-en")] = None,
        description_zh: Annotated[str | None, typer.Option("--description-zh")] = None,
        description_en: Annotated[str | None, typer.Option("--description-en")] = None,
        tag: Annotated[list[str] | None, typer.Option("--tag", help="repeatable")] = None,
        category: Annotated[str | None, typer.Option()] = None,
        update_frequency: Annotated[str | None, typer.Option("--update-frequency")] = None,
        data_source: Annotated[str | None, typer.Option("--data-source")] = None,
        scenario: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        """Create a data product owned by your organisation."""
        fields = {k: v for k, v in {
            "title_en": title_en, "description_zh": description_zh,
            "description_en": description_en, "tags": tag, "category": category,
            "update_frequency": update_frequency, "data_source": data_source,
            "scenario": scenario}.items() if v is not None}
        with client() as c:
            show(c.create_product(slug, title_zh, **fields))

    @product.command("show")
    def product_show(slug: str) -> None:
        with client() as c:
            show(c.get_product(slug))

    @product.command("list")
    def product_list(provider: Annotated[int | None, typer.Option(
            help="provider organisation id")] = None) -> None:
        with client() as c:
            show(list(_all(lambda t: c.list_products(provider_org_id=provider, page_token=t))),
                 ["slug", "title_zh", "provider_name", "category", "status"])

    table = typer.Typer(no_args_is_help=True, help="Tables of a product.")
    app.add_typer(table, name="table")

    @table.command("create")
    def table_create(
        slug: str, name: str,
        description: Annotated[str | None, typer.Option()] = None,
        partition_by: Annotated[list[str] | None, typer.Option("--partition-by")] = None,
    ) -> None:
        with client() as c:
            show(c.create_table(slug, name, description=description, partition_by=partition_by))

    @app.command()
    def ingest(
        slug: str, table_name: Annotated[str, typer.Argument(metavar="TABLE")], file: Path,
        mode: Annotated[str, typer.Option(help="append or overwrite")] = "append",
        format: Annotated[str, typer.Option(help="auto, csv, parquet or arrow")] = "auto",
        encoding: Annotated[str | None, typer.Option(help="CSV encoding (detected)")] = None,
        delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (detected)")] = None,
        header: Annotated[bool | None, typer.Option("--header/--no-header",
                                                    help="CSV header row (detected)")] = None,
        null_value: Annotated[list[str] | None, typer.Option(
            "--null-value", help="CSV cell text read as null; repeat for several "
            "(default: only the empty cell; give --null-value '' to keep it)")] = None,
    ) -> None:
        """Upload a CSV, Parquet or Arrow file into a table as a new version."""
        if not file.is_file():
            err.print(f"[red]error[/red] no such file: {file}")
            raise typer.Exit(1)
        size = file.stat().st_size
        with client() as c, Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), console=err, transient=True,
        ) as progress:
            task = progress.add_task(f"uploading {file.name}", total=size)

            def advance(n: int) -> None:
                progress.advance(task, n)
                if progress.tasks[task].completed >= size:
                    progress.update(task, description="ingesting on the server")

            result = c.ingest(slug, table_name, file, mode=mode,  # type: ignore[arg-type]
                              format=format, encoding=encoding,  # type: ignore[arg-type]
                              delimiter=delimiter, header=header, progress=advance,
                              null_values=null_value or None)
        show(result)

    revision = typer.Typer(no_args_is_help=True, help="Revisions of a product.")
    app.add_typer(revision, name="revision")

    @revision.command("publish")
    def revision_publish(
        slug: str, name: str, note: Annotated[str | None, typer.Option()] = None,
        table_names: Annotated[list[str] | None, typer.Option("--table")] = None,
    ) -> None:
        """Publish the tables' current versions as a named revision."""
        with client() as c:
            show(c.publish_revision(slug, name, note=note, tables=table_names))

    @revision.command("list")
    def revision_list(slug: str) -> None:
        with client() as c:
            show(c.list_revisions(slug), ["number", "name", "status", "table_versions",
                                          "created_at"])

    @revision.command("revoke")
    def revision_revoke(slug: str, number: int,
                        reason: Annotated[str, typer.Option()]) -> None:
        with client() as c:
            show(c.revoke_revision(slug, number, reason))

    ent = typer.Typer(no_args_is_help=True, help="Entitlements: who may use which product.")
    app.add_typer(ent, name="entitlement")

    @ent.command("grant")
    def entitlement_grant(
        consumer: Annotated[int, typer.Option(help="consumer organisation id")],
        product_slug: Annotated[str, typer.Option("--product")],
        mode: Annotated[list[str] | None, typer.Option(help="share and/or sandbox")] = None,
        until: Annotated[datetime | None, typer.Option(help="valid until (UTC)")] = None,
        quota_queries: Annotated[int | None, typer.Option("--quota-queries")] = None,
        quota_bytes: Annotated[int | None, typer.Option("--quota-bytes")] = None,
        note: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        """Let a consumer organisation use one of your products."""
        quotas = {k: v for k, v in {"queries": quota_queries, "bytes": quota_bytes}.items()
                  if v is not None}
        valid_until = as_utc(until)
        with client() as c:
            show(c.grant_entitlement(consumer, product_slug, modes=mode or ["share"],
                                     valid_until=valid_until, quotas=quotas, note=note))

    @ent.command("list")
    def entitlement_list(as_provider: Annotated[bool, typer.Option(
            "--granted", help="those you granted, instead of those you hold")] = False) -> None:
        with client() as c:
            show(c.list_entitlements(role="provider" if as_provider else "consumer"),
                 ["id", "product", "consumer_org_id", "modes", "valid_until", "live"])

    @ent.command("revoke")
    def entitlement_revoke(entitlement_id: int,
                           reason: Annotated[str, typer.Option()]) -> None:
        with client() as c:
            show(c.revoke_entitlement(entitlement_id, reason))

    @ent.command("budget")
    def entitlement_budget(entitlement_id: int, set_epsilon: Annotated[float | None, typer.Option(
            "--set", help="as the provider: the new total ε")] = None,
            refresh: Annotated[str | None, typer.Option(
                help="with --set: daily or monthly (Beijing time); default never")] = None,
    ) -> None:
        """Show (or, as the provider, set) the sandbox privacy budget (ε) of an entitlement."""
        with client() as c:
            show(c.privacy_budget(entitlement_id) if set_epsilon is None
                 else c.set_privacy_budget(entitlement_id, set_epsilon, refresh))

    sharing = typer.Typer(no_args_is_help=True, help="Delta Sharing.")
    app.add_typer(sharing, name="sharing")

    @sharing.command("profile")
    def sharing_profile(
        out: Annotated[Path, typer.Argument(help="profile file to write, e.g. shugu.share")],
        name: Annotated[str, typer.Option()] = "delta-sharing profile",
        days: Annotated[int | None, typer.Option(help="token lifetime in days")] = None,
    ) -> None:
        """Write a Delta Sharing profile file with a new read-only recipient token."""
        with client() as c:
            profile = c.sharing_profile(name, expires_in_days=days)
        out.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
        out.chmod(0o600)
        err.print(f"wrote {out} (endpoint {profile['endpoint']}); keep it secret: it holds a "
                  "bearer token", highlight=False)

    @app.command()
    def search(
        q: Annotated[str, typer.Argument(help="words in Chinese or English")] = "",
        provider: Annotated[int | None, typer.Option(help="provider organisation id")] = None,
        category: Annotated[str | None, typer.Option()] = None,
        tag: Annotated[str | None, typer.Option()] = None,
        limit: Annotated[int, typer.Option()] = 20,
        page_token: Annotated[str | None, typer.Option("--page-token")] = None,
    ) -> None:
        """Search the catalog."""
        with client() as c:
            page = c.search(q, provider_org_id=provider, category=category, tag=tag,
                            limit=limit, page_token=page_token)
        show(page.items, ["slug", "title_zh", "title_en", "provider_name", "score"])
        if page.next_page_token and not state.as_json:
            console.print(f"more: --page-token {page.next_page_token}")


def _all(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return
