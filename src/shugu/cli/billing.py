"""`shugu billing|invoice|settlement|voucher`: invoices, clearing and trade vouchers."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from shugu.billing import voucher_check
from shugu.cli.remote import as_utc, client, console, err, show, state
from shugu.client import Client, ShuguAPIError

Until = Annotated[datetime | None, typer.Option(
    help="cut-off instant (ISO 8601, UTC unless a zone is given); default: the start of "
         "the current month (UTC+8)")]
Role = Annotated[str, typer.Option(help="consumer, provider or all (operators, auditors)")]
INVOICE_COLUMNS = ["number", "agreement_number", "product", "period_start", "period_end",
                   "total_yuan", "status", "voucher"]


def register(app: typer.Typer) -> None:
    billing = typer.Typer(no_args_is_help=True, help="Billing runs and cost exports.")
    invoice = typer.Typer(no_args_is_help=True, help="Invoices.")
    settlement = typer.Typer(no_args_is_help=True, help="Settlements (operators, auditors).")
    voucher = typer.Typer(no_args_is_help=True, help="Trade vouchers (交易凭证).")
    app.add_typer(billing, name="billing")
    app.add_typer(invoice, name="invoice")
    app.add_typer(settlement, name="settlement")
    app.add_typer(voucher, name="voucher")

    @billing.command("run")
    def billing_run(until: Until = None) -> None:
        """Operators: invoice every agreement up to the cut-off."""
        with client() as c:
            issued = c.run_billing(as_utc(until))
        show(issued, INVOICE_COLUMNS)

    @billing.command("costs")
    def billing_costs(
        out: Annotated[Path, typer.Option("-o", "--out", help="CSV file to write")],
        start: Annotated[datetime | None, typer.Option(help="issued at or after")] = None,
        end: Annotated[datetime | None, typer.Option(help="issued before")] = None,
    ) -> None:
        """Your organisation's cost items as a buyer, as CSV (for 数据资产入表)."""
        with client() as c:
            text = c.cost_items_csv(start=as_utc(start), end=as_utc(end))
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {out} ({len(text.splitlines()) - 1} items)", highlight=False)

    @invoice.command("list")
    def invoice_list(role: Role = "consumer", status: Annotated[str | None, typer.Option(
            help="issued, settled or void")] = None) -> None:
        with client() as c:
            show(c.invoices(role=role, status=status, limit=500).items, INVOICE_COLUMNS)

    @invoice.command("show")
    def invoice_show(number: str) -> None:
        with client() as c:
            show(c.invoice(number))

    @invoice.command("void")
    def invoice_void(number: str, reason: Annotated[str, typer.Option()]) -> None:
        """Operators: cancel an unsettled invoice; its usage is billed again next run."""
        with client() as c:
            show(c.void_invoice(number, reason))

    @settlement.command("create")
    def settlement_create(until: Annotated[datetime | None, typer.Option(
            help="settle only invoices issued before this instant")] = None) -> None:
        """Operators: split every issued invoice and issue vouchers."""
        with client() as c:
            show(c.settle(as_utc(until)))

    @settlement.command("list")
    def settlement_list() -> None:
        with client() as c:
            show(c.settlements(limit=500).items,
                 ["number", "total_yuan", "invoice_count", "created_at", "created_by"])

    @settlement.command("show")
    def settlement_show(number: str) -> None:
        with client() as c:
            show(c.settlement(number))

    @voucher.command("list")
    def voucher_list(role: Role = "consumer", quiet: Annotated[bool, typer.Option(
            "-q", "--quiet", help="only the numbers, newest first, one per line")] = False,
    ) -> None:
        with client() as c:
            items = c.vouchers(role=role, limit=500).items
        if quiet:
            for v in sorted(items, key=lambda v: (v.issued_at, v.number), reverse=True):
                sys.stdout.write(v.number + "\n")
            return
        show(items, ["number", "invoice", "settlement", "issued_at", "content_sha256"])

    @voucher.command("show")
    def voucher_show(number: str) -> None:
        with client() as c:
            show(c.voucher(number))

    @voucher.command("evidence")
    def voucher_evidence(number: str, out: Annotated[Path, typer.Option(
            "-o", "--out", help="file to write the evidence bundle to")]) -> None:
        """Download a voucher with its ledger events, proofs and a signed tree head."""
        with client() as c:
            bundle = c.voucher_evidence(number)
        out.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n",
                       encoding="utf-8")
        err.print(f"wrote {out}; check it with: shugu voucher verify {out} --public-key KEY",
                  highlight=False)

    @voucher.command("verify")
    def voucher_verify(
        file: Annotated[Path, typer.Argument(help="evidence bundle from `voucher evidence`")],
        public_key: Annotated[str | None, typer.Option(
            help="base64 Ed25519 platform key to trust (`shugu ledger public-key`)"
        )] = None,
        url: Annotated[str | None, typer.Option(
            "--url", help="fetch the platform key to trust from this shugu server")] = None,
    ) -> None:
        """Check a voucher offline against the ledger's signed tree head. Exit 0 if every
        check passes, 1 if any fails, 2 if the file cannot be read or the key is no key."""
        from shugu.platform_key import InvalidPublicKey, check_public_key

        if public_key is not None:
            try:
                check_public_key(public_key)
            except InvalidPublicKey as exc:  # the key's fault, not the tree head's
                err.print(f"[red]error[/red] --public-key: {exc}")
                raise typer.Exit(2) from None
        try:
            bundle = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            err.print(f"[red]error[/red] cannot read {file}: {exc}")
            raise typer.Exit(2) from None
        if public_key is None and url is not None:
            try:
                with Client(url) as anonymous:
                    public_key = anonymous.platform_key().public_key
            except (httpx.HTTPError, ShuguAPIError) as exc:
                err.print(f"[red]error[/red] cannot fetch the platform key from {url}: {exc}")
                raise typer.Exit(2) from None
        report = voucher_check.verify(bundle, public_key)
        if state.as_json:
            console.print_json(json.dumps({"number": report.number, "ok": report.ok,
                                           "checks": [c.__dict__ for c in report.checks]},
                                          ensure_ascii=False))
        else:
            for c in report.checks:
                mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
                console.print(f"{mark} {c.name}: {c.detail}", highlight=False)
            verdict = "[green]voucher verified[/green]" if report.ok else \
                "[red]voucher NOT verified[/red]"
            console.print(f"{verdict} {report.number or ''}")
        raise typer.Exit(0 if report.ok else 1)
