"""`shugu ledger export | verify | public-key | openings | verify-openings`.

verify and verify-openings exit 0 when intact, 1 when something was altered or is missing
(the message names the first such event and what is wrong), 2 when they cannot check at
all (unreadable input, no public key, a public key that is not one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

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
from shugu.platform_key import InvalidPublicKey, check_public_key

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)

PublicKey = Annotated[str | None, typer.Option(
    "--public-key", help="base64 Ed25519 key to trust for tree head signatures "
    "(`shugu ledger public-key`; default: the data dir's platform key, or the one named in "
    "the file)")]
Url = Annotated[str | None, typer.Option(
    "--url", envvar="SHUGU_URL", help="a shugu server (default: SHUGU_URL, else "
    "http://127.0.0.1:8000)")]
Token = Annotated[str | None, typer.Option("--token", envvar="SHUGU_TOKEN", help="API token")]
DEFAULT_URL = "http://127.0.0.1:8000"


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


def _fail_unreadable(exc: Exception) -> NoReturn:
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
        if public_key is not None:
            _key(public_key)
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
            # A key given by hand is an outsider's check: the end must be signed, as in a
            # file. The operator's own check of a live ledger tolerates an unsigned tail
            # (the server signs every SHUGU_STH_INTERVAL_SECONDS) and says how long it is.
            report = run_verify(db.records(), public_key=key, nodes=db, trusted=trusted,
                                progress=advance, require_signed=public_key is not None)
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
    full: Annotated[bool, typer.Option(
        "--full/--public", help="also write every event's opening (actor, subject, payload, "
        "salt): for the operator and auditors only. Default: the public form, which "
        "discloses nothing private")] = False,
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
            summary = run_export(db, out_file, public_key=key, progress=advance, full=full)
    except CannotVerify as exc:
        err.print(f"[red]cannot export:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    if key is None:
        err.print("warning: no platform key in the data dir; the file names no public key, "
                  "so verifying it needs --public-key", highlight=False)
    out.print(f"exported {summary.events} events and {summary.tree_heads} signed tree heads "
              f"to {escape(str(out_file))} (root {summary.root}, "
              f"{'full form, with openings' if full else 'public form'})", highlight=False,
              soft_wrap=True)


def _key(text: str) -> str:
    try:
        check_public_key(text)
    except InvalidPublicKey as exc:
        raise CannotVerify(f"--public-key: {exc}") from exc
    return text


def _get_json(url: str, path: str, token: str | None = None,
              params: dict[str, object] | None = None) -> dict[str, object]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url.rstrip("/") + "/api/v1" + path, headers=headers,
                             params={k: v for k, v in (params or {}).items() if v is not None},
                             timeout=60)
    except httpx.HTTPError as exc:
        err.print(f"[red]error[/red] cannot reach shugu at {escape(url)}: {escape(str(exc))}",
                  highlight=False)
        raise typer.Exit(2) from None
    if response.status_code != 200:
        try:
            error = response.json()["error"]
            what = f"[{error['code']}] {error['message']}"
        except (ValueError, KeyError, TypeError):
            what = f"HTTP {response.status_code}"
        err.print(f"[red]error[/red] {escape(what)}", highlight=False)
        raise typer.Exit(1)
    data = response.json()
    if not isinstance(data, dict):
        err.print("[red]error[/red] unexpected answer from the server")
        raise typer.Exit(2)
    return data


@app.command("public-key")
def public_key_command(url: Url = None, data_dir: DataDir = None) -> None:
    """Print the platform's public key (base64 Ed25519), which every offline check needs.

    From a server (anonymous GET /api/v1/ledger/public-key), or with --data-dir from the
    data dir's key file. Only the key goes to standard output; its id to standard error.
    """
    from shugu.ledger.read_db import load_public_key
    from shugu.platform_key import key_id_of

    if data_dir is not None:
        try:
            key = load_public_key(settings_from(data_dir).keys_dir)
        except CannotVerify as exc:
            _fail_unreadable(exc)
        if key is None:
            err.print(f"no platform key in {escape(str(data_dir))}", highlight=False)
            raise typer.Exit(2)
    else:
        key = str(_get_json(url or DEFAULT_URL, "/ledger/public-key").get("public_key"))
    try:
        key_id = key_id_of(check_public_key(key))
    except InvalidPublicKey as exc:
        err.print(f"[red]error[/red] the server's key is unusable: {escape(str(exc))}")
        raise typer.Exit(2) from None
    print(key)
    err.print(f"key id {key_id} (Ed25519)", highlight=False)


@app.command()
def openings(
    out_file: Annotated[Path, typer.Argument(metavar="OUT", help="bundle to write (JSON)")],
    url: Url = None, token: Token = None,
    action: Annotated[str | None, typer.Option(help="only events of this action")] = None,
    subject: Annotated[str | None, typer.Option(help="only events of this subject")] = None,
) -> None:
    """Export the openings of your organisation's events, with proofs, for an auditor.

    The bundle holds each event's public form, its opening (actor, subject, payload,
    salt) and its audit path to one signed tree head; the auditor checks it offline with
    `shugu ledger verify-openings OUT --public-key KEY`.
    """
    base = url or DEFAULT_URL
    bundle: dict[str, object] | None = None
    items: list[object] = []
    token_page: str | None = None
    while True:
        page = _get_json(base, "/ledger/openings", token, {
            "action": action, "subject": subject, "page_token": token_page,
            "limit": 100, "tree_size": bundle["tree_head"]["size"]  # type: ignore[index]
            if bundle else None})
        bundle = bundle or page
        items += page.get("items") or []  # type: ignore[operator]
        token_page = page.get("next_page_token")  # type: ignore[assignment]
        if not token_page:
            break
    assert bundle is not None
    bundle = {**bundle, "items": items, "next_page_token": None}
    tmp = out_file.with_name(out_file.name + ".partial")
    tmp.write_text(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n", "utf-8")
    tmp.replace(out_file)
    out.print(f"wrote {len(items)} openings to {escape(str(out_file))} (proofs to the tree "
              f"head of size {bundle['tree_head']['size']})",  # type: ignore[index]
              highlight=False, soft_wrap=True)


@app.command("verify-openings")
def verify_openings(
    file: Annotated[Path, typer.Argument(help="a bundle from `shugu ledger openings`")],
    public_key: PublicKey = None, url: Url = None,
) -> None:
    """Check a party's openings offline: each opening hashes to its event's commitment and
    the event is in a tree head signed by the platform key."""
    from shugu.ledger.openings import verify_bundle

    try:
        bundle = json.loads(file.read_text("utf-8"))
        if public_key is not None:
            _key(public_key)
    except (OSError, ValueError) as exc:
        _fail_unreadable(CannotVerify(f"cannot read {file}: {exc}"))
    except CannotVerify as exc:
        _fail_unreadable(exc)
    if public_key is None and url is not None:
        public_key = str(_get_json(url, "/ledger/public-key").get("public_key"))
    if not isinstance(bundle, dict):
        _fail_unreadable(CannotVerify(f"{file} is not an openings bundle"))
    try:
        report = verify_bundle(bundle, public_key)
    except InvalidPublicKey as exc:
        _fail_unreadable(CannotVerify(f"the key fetched from {url}: {exc}"))
    for c in report.checks:
        mark = "[green]ok[/green]" if c.ok else "[red]FAILED[/red]"
        out.print(f"{mark} {escape(c.name)}: {escape(c.detail)}", highlight=False,
                  soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
    out.print(f"[bold green]openings verified[/bold green]: {len(bundle['items'])} events",
              highlight=False)
