"""Setting and reading analysis rules: every change is a new version and a ledger event."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.catalog.models import DataTable, Product
from shugu.catalog.permissions import find_product, find_table, owned_table
from shugu.errors import NotFound, Unprocessable
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.sandbox import permissions, schemas
from shugu.sandbox.models import AnalysisRule


def _validate(session: Session, table: DataTable, rules: schemas.RulesIn) -> None:
    """The rules must name the table's real columns and existing tables to join."""
    if table.current_version is None or not table.schema_json:
        raise Unprocessable(f"table {table.name!r} has no data yet; rules name its columns",
                            code="table_empty")
    real = {str(c["name"]) for c in table.schema_json}
    unknown = sorted(set(rules.columns) - real)
    if unknown:
        raise Unprocessable(f"the table has no column(s) {', '.join(unknown)}",
                            code="unknown_column", columns=unknown, table=table.name)
    for join in rules.joins:
        if join.with_ == "mine":
            continue
        slug, name = join.with_.split(".", 1)
        other = session.scalar(select(Product).where(Product.slug == slug))
        if other is None or session.scalar(select(DataTable.id).where(
                DataTable.product_id == other.id, DataTable.name == name)) is None:
            raise Unprocessable(f"cannot allow joins with {join.with_}: no such table",
                                code="unknown_join_table", table=join.with_)


def set_rules(session: Session, principal: Principal, slug: str, table_name: str,
              rules: schemas.RulesIn) -> AnalysisRule:
    table = owned_table(session, principal, slug, table_name)
    _validate(session, table, rules)
    previous = session.scalar(select(func.max(AnalysisRule.version))
                              .where(AnalysisRule.table_id == table.id)) or 0
    body = rules.model_dump(mode="json", by_alias=True, exclude_none=True)
    row = AnalysisRule(table_id=table.id, version=previous + 1, body=body,
                       created_by_user_id=principal.user_id)
    session.add(row)
    session.flush()
    ledger.append(session, actor=principal.actor, action="sandbox.rules_set",
                  parties=[principal.org_id],
                  subject=f"table:{table.id}",
                  payload={"product": slug, "table": table.name, "version": row.version,
                           "rules": body})
    return row


def latest(session: Session, table_id: int) -> AnalysisRule | None:
    return session.scalar(select(AnalysisRule).where(AnalysisRule.table_id == table_id)
                          .order_by(AnalysisRule.version.desc()).limit(1))


def get_rules(session: Session, principal: Principal, slug: str, table_name: str,
              version: int | None = None) -> tuple[Product, DataTable, AnalysisRule]:
    product = find_product(session, slug)
    permissions.check_rules_reader(session, principal, product)
    table = find_table(session, product, table_name)
    if version is None:
        row = latest(session, table.id)
    else:
        row = session.scalar(select(AnalysisRule).where(AnalysisRule.table_id == table.id,
                                                        AnalysisRule.version == version))
    if row is None:
        raise NotFound(f"{slug}.{table_name} has no analysis rules"
                       + ("" if version is None else f" version {version}"),
                       code="rules_not_found")
    return product, table, row


def to_out(product: Product, table: DataTable, row: AnalysisRule) -> schemas.RulesOut:
    return schemas.RulesOut(product=product.slug, table=table.name, version=row.version,
                            rules=schemas.RulesIn.model_validate(row.body),
                            created_at=row.created_at)
