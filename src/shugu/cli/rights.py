"""`shugu fingerprint` (offline), `shugu registration ...`, `shugu cert ...`, `shugu pledge ...`.

`shugu fingerprint` and `shugu cert verify` work without a server: exit 0 when the data or
certificate checks out, 1 when it does not (the output says what differs or failed), 2 when
the input cannot be read at all.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shugu.cli.remote import _all, as_utc, client, show, state
from shugu.rights import certfile
from shugu.rights import fingerprint as fp

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int) -> None:
    err.print(f"[red]{'cannot check' if code == 2 else 'mismatch'}:[/red] {escape(message)}",
              highlight=False)
    raise typer.Exit(code)


def _expected(expect: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """--expect: a 64-hex root, or a fingerprint JSON file (from the API or --json)."""
    if expect is None:
        return None, None
    candidate = expect.strip().lower()
    if len(candidate) == 64 and all(ch in "0123456789abcdef" for ch in candidate):
        return candidate, None
    try:
        manifest = json.loads(Path(expect).read_text("utf-8"))
        return str(manifest["root"]).lower(), manifest
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _fail(f"--expect is neither a 64-hex root nor a fingerprint JSON file ({exc})", 2)
        raise AssertionError from exc


def _diff(result: fp.Result, manifest: dict[str, Any]) -> list[str]:
    mine = {(f.table, f.path): f for f in result.files}
    theirs = {(f["table"], f["path"]): f for f in manifest.get("files", [])}
    lines = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a is None:
            lines.append(f"missing here: {key[0]}/{key[1]}")
        elif b is None:
            lines.append(f"not in the expected fingerprint: {key[0]}/{key[1]}")
        elif (a.size, a.sha256) != (b["size"], b["sha256"]):
            lines.append(f"differs: {key[0]}/{key[1]} (sha256 {a.sha256[:16]}…, expected "
                         f"{str(b['sha256'])[:16]}…)")
    return lines


def fingerprint(
    path: Annotated[Path, typer.Argument(help="a directory with one Delta table per "
                                         "sub-directory (named as the tables), or one table")],
    version: Annotated[list[str] | None, typer.Option(
        "--version", help="TABLE=VERSION to read a table at a Delta version (repeatable); "
        "default: the versions in --expect's fingerprint JSON, else each table's latest")] = None,
    expect: Annotated[str | None, typer.Option(
        help="the root to expect, or a fingerprint JSON file (GET .../fingerprint); "
        "exit 1 on mismatch")] = None,
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="only these tables (default: the expected fingerprint's tables, "
        "else every table found)")] = None,
) -> None:
    """Recompute a revision's fingerprint (存证) from a local copy of its Delta tables."""
    want_root, manifest = _expected(expect)
    try:
        found = fp.local_tables(path)
    except (fp.FingerprintError, OSError) as exc:
        _fail(str(exc), 2)
    versions: dict[str, int | None] = {}
    if manifest is not None:
        versions.update({k: int(v) for k, v in manifest.get("table_versions", {}).items()})
    for item in version or []:
        name, _, number = item.partition("=")
        if not number.isdigit():
            _fail(f"--version wants TABLE=VERSION, not {item!r}", 2)
        versions[name] = int(number)
    names = table or (list(versions) if manifest is not None else list(found))
    missing = [n for n in names if n not in found]
    if missing:
        _fail(f"no Delta table for {', '.join(missing)} under {path}", 2 if manifest is None
              else 1)
    try:
        result = fp.compute({n: (found[n], versions.get(n)) for n in names})
    except fp.FingerprintError as exc:
        _fail(str(exc), 2)
    if state.as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        grid = Table("table", "path", "size", "sha256")
        for f in result.files:
            grid.add_row(f.table, f.path, str(f.size), f.sha256)
        out.print(grid)
        out.print("versions: " + ", ".join(f"{k}={v}" for k, v in result.table_versions.items()))
        out.print(f"root: [bold]{result.root}[/bold]")
    if want_root is not None:
        if result.root != want_root:
            for line in _diff(result, manifest) if manifest is not None else []:
                err.print(escape(line), highlight=False)
            _fail(f"root {result.root} != expected {want_root}", 1)
        err.print("[green]matches[/green] the expected root")


def verify_certificate(
    file: Annotated[Path, typer.Argument(help="certificate JSON (GET "
                                         "/certificates/{number}/file)")],
    public_key: Annotated[str | None, typer.Option(
        "--public-key", help="base64 Ed25519 platform key to trust")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="fetch the platform key to trust from this shugu server")] = None,
) -> None:
    """Verify a certificate offline: signature, key and validity period."""
    try:
        doc = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {file}: {exc}", 2)
    if url is not None and public_key is None:
        try:
            response = httpx.get(url.rstrip("/") + "/api/v1/public/platform-key", timeout=30)
            response.raise_for_status()
            public_key = str(response.json()["public_key"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            _fail(f"cannot fetch the platform key from {url}: {exc}", 2)
    try:
        verdict = certfile.verify(doc, public_key)
    except certfile.Unreadable as exc:
        _fail(str(exc), 2)
        raise AssertionError from exc
    for warning in verdict.warnings:
        err.print(f"[yellow]note:[/yellow] {escape(warning)}", highlight=False)
    if not verdict.ok:
        for problem in verdict.problems:
            err.print(f"[red]FAILED[/red] {escape(problem)}", highlight=False)
        raise typer.Exit(1)
    content = doc["certificate"]
    out.print(f"[green]valid[/green] certificate {escape(str(verdict.number))}: holder "
              f"{escape(str(content['holder']['name']))}, fingerprint "
              f"{content['fingerprint']['root']}, valid until {content['valid_until']}",
              highlight=False)


def register(app: typer.Typer) -> None:
    app.command("fingerprint")(fingerprint)

    reg = typer.Typer(no_args_is_help=True, help="Rights registrations (登记), review, 公示.")
    app.add_typer(reg, name="registration")
    cert = typer.Typer(no_args_is_help=True, help="Registration certificates (登记证书).")
    app.add_typer(cert, name="cert")
    pledge = typer.Typer(no_args_is_help=True, help="Pledges (质押) on certificates.")
    app.add_typer(pledge, name="pledge")
    cert.command("verify")(verify_certificate)

    @reg.command("fingerprint")
    def reg_fingerprint(slug: str, revision: int) -> None:
        """Record (or show) the fingerprint of one of your revisions on the server."""
        with client() as c:
            result = c.record_fingerprint(slug, revision)
        if state.as_json:
            show(result)
        else:
            out.print(f"root: [bold]{result.root}[/bold] ({result.file_count} files, "
                      f"{result.total_bytes} bytes, ledger seq {result.ledger_seq})")

    @reg.command("create")
    def reg_create(
        kind: Annotated[str, typer.Option(help="initial, licence, transfer, change, "
                                          "cancellation")] = "initial",
        product: Annotated[str | None, typer.Option(help="product slug (initial)")] = None,
        revision: Annotated[int | None, typer.Option(help="revision (initial, change)")] = None,
        certificate: Annotated[str | None, typer.Option(help="certificate number")] = None,
        right: Annotated[list[str] | None, typer.Option(
            help="holding, processing_use, operation (repeatable)")] = None,
        source_kind: Annotated[str | None, typer.Option(help="self_collected or acquired")]
        = None,
        source: Annotated[str | None, typer.Option(help="how the data was obtained")] = None,
        algorithm: Annotated[str | None, typer.Option(help="algorithm rules applied")] = None,
        scenario: Annotated[str | None, typer.Option()] = None,
        update_period: Annotated[str | None, typer.Option()] = None,
        counterparty: Annotated[int | None, typer.Option(
            help="transfer: new holder; licence: licensee (organisation id)")] = None,
        scope: Annotated[str | None, typer.Option(help="licence scope")] = None,
        licence_until: Annotated[datetime | None, typer.Option()] = None,
        pledge_id: Annotated[int | None, typer.Option("--pledge",
                                                      help="enforced pledge")] = None,
        reason: Annotated[str | None, typer.Option()] = None,
        data_name: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        """Start an application (a draft; upload documents, then submit)."""
        fields = dict(product=product, revision=revision, certificate=certificate,
                      rights=right or [], source_kind=source_kind, source_description=source,
                      algorithm_rules=algorithm, scenario=scenario, update_period=update_period,
                      counterparty_org_id=counterparty, licence_scope=scope,
                      licence_until=as_utc(licence_until), pledge_id=pledge_id, reason=reason,
                      data_name=data_name)
        with client() as c:
            show(c.create_registration(kind, **{k: v for k, v in fields.items()
                                                if v is not None}))

    @reg.command("list")
    def reg_list(notices: Annotated[bool, typer.Option(
            help="every registration in public notice (open to objections)")] = False,
            status: Annotated[str | None, typer.Option()] = None) -> None:
        with client() as c:
            show(c.registrations(notices=notices, status=status).items,
                 ["id", "kind", "status", "product", "certificate", "notice_end",
                  "issued_certificate"])

    @reg.command("notices")
    def reg_notices() -> None:
        """The public notice (公示): registrations open to objections now (no token needed)."""
        with client() as c:
            items = list(_all(lambda t: c.public_notices(page_token=t)))
        show(items, ["id", "kind", "data_name", "applicant", "product", "objection_deadline"])

    @reg.command("show")
    def reg_show(registration_id: int) -> None:
        with client() as c:
            show(c.registration(registration_id))

    @reg.command("upload")
    def reg_upload(registration_id: int, file: Path, description: Annotated[
            str | None, typer.Option()] = None) -> None:
        """Attach a proof document (its SHA-256 is recorded)."""
        with client() as c:
            show(c.upload_document(registration_id, file, description=description))

    @reg.command("submit")
    def reg_submit(registration_id: int) -> None:
        with client() as c:
            show(c.submit_registration(registration_id))

    @reg.command("withdraw")
    def reg_withdraw(registration_id: int) -> None:
        with client() as c:
            show(c.withdraw_registration(registration_id))

    @reg.command("review")
    def reg_review(registration_id: int, decision: Annotated[str, typer.Argument(
            help="approve, reject or request_changes")],
            note: Annotated[str | None, typer.Option()] = None) -> None:
        """Operator: formal, then substantive review."""
        with client() as c:
            show(c.review_registration(registration_id, decision, note))

    @reg.command("object")
    def reg_object(registration_id: int, reason: Annotated[str, typer.Option()]) -> None:
        """File an objection (异议) during the public notice."""
        with client() as c:
            show(c.file_objection(registration_id, reason))

    @reg.command("objections")
    def reg_objections(registration_id: int) -> None:
        with client() as c:
            show(c.objections(registration_id))

    @reg.command("resolve")
    def reg_resolve(objection_id: int, decision: Annotated[str, typer.Argument(
            help="upheld or dismissed")], note: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        with client() as c:
            show(c.resolve_objection(objection_id, decision, note))

    @reg.command("issue")
    def reg_issue(registration_id: int) -> None:
        """Operator: the notice is over; issue the certificate (or record the change)."""
        with client() as c:
            show(c.issue_registration(registration_id))

    @reg.command("refuse")
    def reg_refuse(registration_id: int, note: Annotated[str, typer.Option()]) -> None:
        with client() as c:
            show(c.refuse_registration(registration_id, note))

    @cert.command("show")
    def cert_show(number: str) -> None:
        with client() as c:
            found = c.certificate(number)
        if state.as_json:
            show(found)
            return
        # The signed file is long; `shugu cert download` saves it.
        for key, value in found.model_dump(mode="json", exclude={"file"}).items():
            text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) \
                else ("" if value is None else str(value))
            out.print(f"[bold]{key}[/bold]: {escape(text)}", highlight=False)

    @cert.command("list")
    def cert_list(quiet: Annotated[bool, typer.Option(
            "-q", "--quiet", help="only the numbers, newest first, one per line")] = False,
    ) -> None:
        """Your organisation's certificates (the operator: all)."""
        with client() as c:
            items = list(_all(lambda t: c.certificates(page_token=t)))
        if quiet:
            for found in sorted(items, key=lambda x: (x.issued_at, x.number), reverse=True):
                sys.stdout.write(found.number + "\n")
            return
        show(items, ["number", "status", "product", "issued_at", "valid_until"])

    @cert.command("status")
    def cert_status(number: str) -> None:
        """The public status (no token needed)."""
        with client() as c:
            show(c.certificate_status(number))

    @cert.command("download")
    def cert_download(number: str, output: Annotated[Path, typer.Option("-o", "--output")],
                      ) -> None:
        """Save the signed certificate JSON, for `shugu cert verify`."""
        with client() as c:
            doc = c.certificate_file(number)
        output.write_text(doc.model_dump_json(indent=2) + "\n", "utf-8")
        err.print(f"saved {output}")

    @cert.command("html")
    def cert_html(number: str, output: Annotated[Path | None, typer.Option(
            "-o", "--output", help="file to write (default: stdout)")] = None) -> None:
        """The printable bilingual certificate (print it to PDF from a browser)."""
        with client() as c:
            page = c.certificate_html(number)
        if output is None:
            sys.stdout.write(page)
        else:
            output.write_text(page, "utf-8")
            err.print(f"saved {output}")

    @pledge.command("create")
    def pledge_create(
        number: str,
        pledgee: Annotated[int, typer.Option(help="pledgee organisation id")],
        amount_fen: Annotated[int, typer.Option(help="secured amount in fen (分)")],
        until: Annotated[datetime, typer.Option(help="end of the term (UTC)")],
        start: Annotated[datetime | None, typer.Option(help="start (default: now)")] = None,
        note: Annotated[str | None, typer.Option()] = None,
    ) -> None:
        """Register a pledge on a certificate you hold."""
        end = as_utc(until)
        assert end is not None
        with client() as c:
            show(c.register_pledge(number, pledgee, amount_fen, end, term_start=as_utc(start),
                                   note=note))

    @pledge.command("list")
    def pledge_list(certificate: Annotated[str | None, typer.Option()] = None) -> None:
        with client() as c:
            show(c.pledges(certificate=certificate),
                 ["id", "certificate", "pledgee_org_id", "amount_fen", "term_end", "status"])

    @pledge.command("show")
    def pledge_show(pledge_id: int) -> None:
        with client() as c:
            show(c.pledge(pledge_id))

    @pledge.command("release")
    def pledge_release(pledge_id: int, note: Annotated[str | None, typer.Option()] = None,
                       ) -> None:
        """Pledgee or operator: the debt is settled."""
        with client() as c:
            show(c.release_pledge(pledge_id, note))

    @pledge.command("enforce")
    def pledge_enforce(pledge_id: int, note: Annotated[str | None, typer.Option()] = None,
                       ) -> None:
        """Pledgee or operator: realise the pledge (then file a transfer with --pledge)."""
        with client() as c:
            show(c.enforce_pledge(pledge_id, note))
