"""`shugu sandbox ...`: rules, queries, results, templates, reviews and your own tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shugu.cli.remote import client, console, err, show, state
from shugu.sandbox import schemas

app = typer.Typer(no_args_is_help=True, help="Sandbox: run aggregate queries on data you "
                  "cannot see (数据可用不可见).")
rules_app = typer.Typer(no_args_is_help=True, help="Analysis rules of your tables.")
template_app = typer.Typer(no_args_is_help=True, help="Parametrised query templates.")
review_app = typer.Typer(no_args_is_help=True, help="Custom queries reviewed by providers.")
app.add_typer(rules_app, name="rules")
app.add_typer(template_app, name="template")
app.add_typer(review_app, name="review")


def _print_result(result: schemas.QueryResult) -> None:
    if state.as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    table = Table()
    for name in result.columns:
        table.add_column(name)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    q = result.query
    noisy = f", differentially private (ε {q.dp.epsilon:g})" if q.dp else ""
    err.print(f"query {q.id}: {q.rows} row(s){noisy}{', truncated' if q.truncated else ''}; "
              "result sha256 "
              f"{q.result_sha256}", highlight=False)


def _params(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep:
            err.print(f"[red]error[/red] --param takes name=value, not {item!r}")
            raise typer.Exit(2)
        out[name] = value
    return out


SQL_HELP = 'SQL; name tables "<product>".<table> or mine.<table>'
EPSILON = Annotated[float | None, typer.Option(help="DP tables: the ε to spend")]
MARGIN = Annotated[float | None, typer.Option(
    help="DP tables: spend the ε that gives every COUNT/SUM this ± at 95 %")]


@app.command()
def query(sql: Annotated[str, typer.Argument(help=SQL_HELP)], epsilon: EPSILON = None,
          margin: MARGIN = None) -> None:
    """Run an aggregate query over entitled products."""
    with client() as c:
        _print_result(c.sandbox_query(sql, epsilon=epsilon, margin=margin))


@app.command()
def estimate(sql: Annotated[str, typer.Argument(help=SQL_HELP)], epsilon: EPSILON = None,
             margin: MARGIN = None) -> None:
    """What a DP query would spend and its ± at 95 %, without running it."""
    with client() as c:
        show(c.sandbox_estimate(sql, epsilon=epsilon, margin=margin))


@app.command()
def history(limit: Annotated[int, typer.Option()] = 20) -> None:
    """Your organisation's recent queries (refusals included)."""
    with client() as c:
        show(c.sandbox_queries(limit=limit).items,
             ["id", "status", "error_code", "rows", "suppressed", "created_at", "sql"])


@app.command()
def result(query_id: int) -> None:
    """Fetch a kept result again."""
    with client() as c:
        _print_result(c.sandbox_result(query_id))


@app.command()
def upload(name: str, file: Path,
           format: Annotated[str, typer.Option(help="auto, csv or parquet")] = "auto") -> None:
    """Upload your own table (CSV/Parquet) as mine.<name>; no provider ever sees it."""
    with client() as c:
        show(c.upload_private_table(name, file, format=format))  # type: ignore[arg-type]


@app.command()
def tables() -> None:
    """Your own tables in the sandbox."""
    with client() as c:
        show(c.private_tables(), ["name", "rows", "columns", "created_at"])


@app.command()
def drop(name: str) -> None:
    """Delete your table mine.<name> and its files."""
    with client() as c:
        c.delete_private_table(name)
    err.print(f"deleted mine.{name}")


@rules_app.command("set")
def rules_set(slug: str, table: str,
              file: Annotated[Path, typer.Argument(help="rules as JSON (docs/sandbox.md)")],
              ) -> None:
    """Set a table's analysis rules from a JSON file (a new version)."""
    body = json.loads(file.read_text(encoding="utf-8"))
    with client() as c:
        show(c.set_analysis_rules(slug, table, body))


@rules_app.command("show")
def rules_show(slug: str, table: str,
               version: Annotated[int | None, typer.Option()] = None) -> None:
    with client() as c:
        show(c.analysis_rules(slug, table, version))


@template_app.command("create")
def template_create(
    slug: str, name: str,
    sql: Annotated[str, typer.Option(help="SQL with :name placeholders")],
    param: Annotated[list[str] | None, typer.Option(
        help="name=type (string, integer, number, date); repeatable")] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    with client() as c:
        show(c.create_template(slug, name, sql, parameters=_params(param),
                               description=description))


@template_app.command("list")
def template_list(slug: str) -> None:
    with client() as c:
        show(c.templates(slug), ["id", "name", "parameters", "description"])


@template_app.command("run")
def template_run(template_id: int, param: Annotated[list[str] | None, typer.Option(
        help="name=value; repeatable")] = None) -> None:
    with client() as c:
        _print_result(c.run_template(template_id, **_params(param)))


@review_app.command("submit")
def review_submit(product: str, sql: str,
                  note: Annotated[str | None, typer.Option()] = None) -> None:
    with client() as c:
        show(c.submit_review(product, sql, note=note))


@review_app.command("list")
def review_list(as_provider: Annotated[bool, typer.Option(
        "--incoming", help="reviews of your products, instead of yours")] = False) -> None:
    with client() as c:
        show(c.reviews(role="provider" if as_provider else "consumer"),
             ["id", "product", "status", "consumer_org_id", "sql"])


@review_app.command("decide")
def review_decide(review_id: int,
                  approve: Annotated[bool, typer.Option("--approve/--reject")],
                  note: Annotated[str | None, typer.Option()] = None) -> None:
    with client() as c:
        show(c.decide_review(review_id, approve, note=note))


@review_app.command("run")
def review_run(review_id: int) -> None:
    with client() as c:
        _print_result(c.run_review(review_id))
