"""`shugu ledger export` and `shugu ledger verify`.

verify exits 0 when the ledger is intact, 1 when something was altered or is missing (the
message names the first such event and what is wrong), 2 when it cannot check at all
(unreadable input, no public key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from shugu.cli.options import DatabaseUrl, DataDir, settings_from
from shugu.config import Settings
from shugu.ledger.verify import (
    CannotVerify,
    ExportHeader,
    Report,
    SignedHead,
    signed_head_from_json,
)

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)

PublicKey = Annotated[str | None, typer.Option(
    "--public-key", help="base64 Ed25519 key to trust for tree head signatures "
    "(default: the data dir's platform key, or the one named in the file)")]


TreeHeads = Annotated[list[Path] | None, typer.Option(
    "--tree-head", help="a signed tree head kept from earlier (JSON from GET "
    "/ledger/tree-head or `shugu.Client.tree_head()`); may be repeated. The ledger must "
    "contain it and match it, even if its stored copy was deleted")]


def _trusted(paths: list[Path] | None) -> list[SignedHead]:
    heads: list[SignedHead] = []
    for path in paths or []:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CannotVerify(f"cannot read tree head {path}: {exc}") from exc
        for obj in data if isinstance(data, list) else [data]:
            heads.append(signed_head_from_json(obj))
    return heads


@contextmanager
def _progress(label: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(set_total, advance_to) for a Rich progress bar on stderr."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield (lambda total: bar.update(task, total=total),
               lambda done: bar.update(task, completed=done))


def _fail_unreadable(exc: Exception) -> None:
    err.print(f"[red]cannot verify:[/red] {escape(str(exc))}", highlight=False)
    raise typer.Exit(2)


def _report(report: Report, what: str) -> None:
    if report.problem is not None:
        p = report.problem
        where = f"event {p.seq}" if p.seq is not None else "the ledger"
        out.print(f"[bold red]LEDGER ALTERED[/bold red] ({escape(what)}): first problem at "
                  f"{where}: {escape(f'{p.message} [{p.kind}]')}", highlight=False,
                  soft_wrap=True)
        out.print(f"checked {report.events} events and {report.tree_heads} signed tree heads "
                  "before stopping", highlight=False)
        raise typer.Exit(1)
    nodes = f", {report.nodes} stored nodes checked" if report.nodes else ""
    out.print(f"[bold green]ledger intact[/bold green] ({escape(what)}): {report.events} events, "
              f"{report.tree_heads} signed tree heads verified{nodes}, root {report.root}",
              highlight=False, soft_wrap=True)
    if report.unsigned_tail:
        out.print(f"note: the last {report.unsigned_tail} events come after the latest signed "
                  "tree head; no signature covers them yet", highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)


@app.command()
def verify(
    file: Annotated[Path | None, typer.Argument(
        help="an export file; without it, the database of the data dir is verified")] = None,
    data_dir: DataDir = None, database_url: DatabaseUrl = None, public_key: PublicKey = None,
    tree_head: TreeHeads = None,
) -> None:
    """Recompute every hash, node and signed tree head of the ledger."""
    from shugu.ledger.read_db import LedgerDatabase, load_public_key
    from shugu.ledger.verify import verify as run_verify
    from shugu.ledger.verify import verify_file

    if file is not None and (data_dir is not None or database_url is not None):
        err.print("give either FILE or --data-dir/--database-url, not both")
        raise typer.Exit(2)
    try:
        trusted = _trusted(tree_head)
        if file is not None:
            with _progress(f"verifying {file.name}") as (set_total, advance):
                def on_header(header: ExportHeader) -> None:
                    set_total(header.size)

                report = verify_file(file, public_key=public_key, trusted=trusted,
                                     progress=advance, on_header=on_header)
            _report(report, str(file))
            return
        settings = settings_from(data_dir, database_url)
        key = public_key or load_public_key(settings.keys_dir)
        with LedgerDatabase(settings.resolved_database_url()) as db, \
                _progress("verifying ledger") as (set_total, advance):
            set_total(db.head.size)
            report = run_verify(db.records(), public_key=key, nodes=db, trusted=trusted,
                                progress=advance)
        _report(report, f"database of {settings.resolved_data_dir()}")
    except CannotVerify as exc:
        _fail_unreadable(exc)


def _sign_current(settings: Settings) -> None:
    """Sign the head so the export's last events are covered by a signature too."""
    from shugu import db
    from shugu.ledger import tree_heads
    from shugu.platform_key import KEY_FILE, PlatformKey

    if not (settings.keys_dir / KEY_FILE).exists():
        return
    engine = db.make_engine(settings.resolved_database_url())
    try:
        with db.transaction(db.make_sessionmaker(db.writer(engine))) as session:
            tree_heads.sign_current(session, PlatformKey.load_or_create(settings.keys_dir))
    finally:
        engine.dispose()


@app.command()
def export(
    out_file: Annotated[Path, typer.Argument(
        metavar="OUT", help="file to write (JSON lines; gzip if it ends in .gz)")],
    data_dir: DataDir = None, database_url: DatabaseUrl = None,
    sign: Annotated[bool, typer.Option(
        "--sign/--no-sign",
        help="first sign a tree head for the current size (needs the platform key)")] = True,
) -> None:
    """Write the whole ledger, with its signed tree heads and public key, to one file."""
    from shugu.ledger.export import export as run_export
    from shugu.ledger.read_db import LedgerDatabase, load_public_key

    settings = settings_from(data_dir, database_url)
    if sign:
        _sign_current(settings)
    try:
        key = load_public_key(settings.keys_dir)
        with LedgerDatabase(settings.resolved_database_url()) as db, \
                _progress(f"exporting to {out_file.name}") as (set_total, advance):
            set_total(db.head.size)
            summary = run_export(db, out_file, public_key=key, progress=advance)
    except CannotVerify as exc:
        err.print(f"[red]cannot export:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    if key is None:
        err.print("warning: no platform key in the data dir; the file names no public key, "
                  "so verifying it needs --public-key", highlight=False)
    out.print(f"exported {summary.events} events and {summary.tree_heads} signed tree heads "
              f"to {escape(str(out_file))} (root {summary.root})", highlight=False,
              soft_wrap=True)
