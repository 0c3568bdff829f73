"""`shugu listing submit|show|queue|approve|reject|delist` and the offline `shugu scan PATH`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn
from rich.table import Table

from shugu.cli.remote import client, console, err, show, state
from shugu.review.schemas import ListingOut

app = typer.Typer(no_args_is_help=True, help="Listing review (挂牌审核): submit, decide, delist.")


def _detections(compliance: dict[str, Any]) -> Table:
    table = Table(title="personal information found (masked samples)")
    for name in ("table", "column", "kind", "matches", "confirmed", "samples"):
        table.add_column(name)
    for tname, report in compliance.get("tables", {}).items():
        for column, info in report["columns"].items():
            for kind, found in info["detections"].items():
                table.add_row(tname, column, kind, f"{found['matches']:,}",
                              "yes" if found["confirmed"] else "no",
                              escape(", ".join(found["samples"])))
    return table


def _print(listing: ListingOut) -> None:
    if state.as_json:
        show(listing)
        return
    console.print(f"[bold]{listing.product}[/bold]  listing #{listing.id}  status "
                  f"[bold]{listing.status}[/bold] (product: {listing.product_status})")
    if listing.risk_grade is not None:
        kinds = ", ".join(listing.personal_information or []) or "none"
        console.print(f"risk grade: [bold]{listing.risk_grade}[/bold]  personal information: "
                      f"{kinds}")
    if listing.quality is not None:
        console.print(f"quality score: {listing.quality_score}")
        for tname, q in listing.quality["tables"].items():
            dims = ", ".join(f"{k} {v['score']}" for k, v in q["dimensions"].items())
            console.print(f"  {tname} ({q['rows']:,} rows): {dims}")
    if listing.compliance is not None:
        console.print(_detections(listing.compliance))
    if listing.reasons:
        console.print("reasons: " + "; ".join(listing.reasons))
    if listing.split is not None:
        s = listing.split
        broker = f", broker {s.broker_org_id} {s.broker_bp}" if s.broker_org_id else ""
        console.print(f"split (basis points): provider {s.provider_bp}, platform "
                      f"{s.platform_bp}{broker}")
    if listing.delist_reason:
        console.print(f"delisted: {listing.delist_reason}")


@app.command("submit")
def submit(slug: str) -> None:
    """Submit a product for listing; the server scans its data before answering."""
    with client() as c, console.status(f"scanning {slug} (compliance and quality) …"):
        listing = c.submit_listing(slug)
    _print(listing)


@app.command("show")
def show_listing(slug: str) -> None:
    """The product's current review (the quality report alone for others once listed)."""
    with client() as c:
        _print(c.get_listing(slug))


@app.command("queue")
def queue(status: Annotated[str, typer.Option(help="in_review, listed, rejected, delisted")]
          = "in_review") -> None:
    """Operators: listings waiting for a decision (or in another status)."""
    with client() as c:
        items, token = [], None
        while True:
            page = c.listing_queue(status=status, page_token=token)
            items += page.items
            token = page.next_page_token
            if token is None:
                break
    show(items, ["id", "product", "status", "risk_grade", "personal_information",
                 "quality_score", "submitted_by", "submitted_at"])


@app.command("approve")
def approve(
    listing_id: int,
    provider_bp: Annotated[int, typer.Option(help="provider's share, basis points")] = 9000,
    platform_bp: Annotated[int, typer.Option(help="platform's share, basis points")] = 1000,
    broker: Annotated[int | None, typer.Option(help="broker organisation id")] = None,
    broker_bp: Annotated[int, typer.Option(help="broker's share, basis points")] = 0,
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Operators: list the product, with the revenue split (shares sum to 10000)."""
    with client() as c:
        _print(c.approve_listing(listing_id, provider_bp=provider_bp, platform_bp=platform_bp,
                                 broker_org_id=broker, broker_bp=broker_bp, note=note))


@app.command("reject")
def reject(listing_id: int,
           reasons: Annotated[list[str], typer.Option("--reason", help="repeat for several")],
           note: Annotated[str | None, typer.Option()] = None) -> None:
    """Operators: send the product back to its provider with reasons."""
    with client() as c:
        _print(c.reject_listing(listing_id, reasons, note=note))


@app.command("delist")
def delist(slug: str, reason: Annotated[str, typer.Option(help="why")]) -> None:
    """The provider or an operator takes a listed product out of the catalog."""
    with client() as c:
        _print(c.delist(slug, reason))


def scan(path: Path, threads: Annotated[int | None, typer.Option(
        help="DuckDB threads (default: all cores)")] = None) -> None:
    """Run the compliance scan offline on a local CSV, Parquet file or Delta table."""
    from shugu.errors import ShuguError
    from shugu.review.engine import local_relation
    from shugu.review.scan import risk_grade, scan_relation

    try:
        relation = local_relation(path)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      TaskProgressColumn(), TimeElapsedColumn(), console=err,
                      transient=True) as progress:
            task = progress.add_task(f"scanning {path.name}", total=100)
            report = scan_relation(relation, threads=threads,
                                   progress=lambda p: progress.update(task, completed=p))
    except ShuguError as exc:
        err.print(f"[red]error[/red] {escape(f'[{exc.code}] {exc.message}')}")
        raise typer.Exit(1) from None
    grade, kinds = risk_grade({path.name: report})
    result = {"path": str(path), "risk_grade": grade, "personal_information": kinds,
              "tables": {path.name: report}}
    if state.as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(f"{report['rows_scanned']:,} rows scanned; risk grade [bold]{grade}[/bold]; "
                  f"personal information: {', '.join(kinds) or 'none'}")
    console.print(_detections(result))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="listing")
    root.command("scan")(scan)
