"""The preview rows a product page may show (样例数据).

A sample is shown to other organisations only when all of these hold:
- the provider offers one (`sample_rows` > 0 on the product, at most 20 per table);
- the product is listed, and the listing review's compliance scan confirmed no personal
  information (risk grade "low") — a sample is a disclosure outside any contract;
- rows come from the table versions that review scanned, never from a later, unreviewed
  ingest;
- columns the analysis rules mark identity, join_key or never_output are left out.
The provider always sees its own sample (current versions, same column rule) to check it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deltalake import DeltaTable
from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.catalog import schemas
from shugu.catalog.models import Product
from shugu.catalog.permissions import visible_product
from shugu.errors import Forbidden
from shugu.identity.principal import Principal
from shugu.review.models import Listing
from shugu.sandbox import rules

HIDDEN_ROLES = {"identity", "join_key", "never_output"}


def approved_listing(session: Session, product: Product) -> Listing | None:
    return session.scalars(select(Listing).where(Listing.product_id == product.id,
                                                 Listing.status == "listed")
                           .order_by(Listing.id.desc()).limit(1)).first()


def _versions(session: Session, principal: Principal, product: Product) -> dict[str, int]:
    """Which version of each table may be sampled, or a refusal saying why none."""
    if product.sample_rows <= 0:
        raise Forbidden("the provider offers no sample of this product",
                        code="sample_not_offered")
    if product.provider_org_id == principal.org_id:
        return {t.name: t.current_version for t in product.tables
                if t.current_version is not None}
    listing = approved_listing(session, product)
    if product.status != "listed" or listing is None:
        raise Forbidden("samples are shown only for listed products", code="sample_not_listed")
    if listing.risk_grade != "low":
        raise Forbidden("the listing review found personal information in this product, "
                        "so no sample is shown", code="sample_withheld_personal_data",
                        risk_grade=listing.risk_grade)
    return dict(listing.table_versions)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def product_sample(session: Session, principal: Principal, tables_dir: Path,
                   slug: str) -> schemas.SampleOut:
    product = visible_product(session, principal, slug)
    versions = _versions(session, principal, product)
    out = schemas.SampleOut(slug=product.slug, rows_per_table=product.sample_rows)
    for table in product.tables:
        version = versions.get(table.name)
        if version is None:
            continue
        rule = rules.latest(session, table.id)
        roles = {name: c.get("role") for name, c in
                 (rule.body.get("columns", {}) if rule else {}).items()}
        data = DeltaTable(str(tables_dir / table.location), version=version) \
            .to_pyarrow_dataset().head(product.sample_rows)
        hidden = [roles.get(n) in HIDDEN_ROLES for n in data.column_names]
        shown = [n for n, h in zip(data.column_names, hidden, strict=True) if not h]
        # By position, not name: linear in the columns however wide the table.
        columns = [data.column(i).to_pylist() for i, h in enumerate(hidden) if not h]
        out.tables.append(schemas.TableSampleOut(
            name=table.name, version=version, columns=shown,
            withheld_columns=[n for n, h in zip(data.column_names, hidden, strict=True) if h],
            rows=[[_text(col[i]) for col in columns] for i in range(data.num_rows)]))
    return out
