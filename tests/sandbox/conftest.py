"""Sandbox fixtures: a grid company's usage table with rules, a bank entitled to query it."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.client import Client
from tests.conftest import Orgs

SLUG = "grid-usage"
K = 5
RULES = {
    "mode": "aggregate", "min_identities": K,
    "columns": {
        "uscc": {"role": "identity"},
        "region": {"role": "dimension"},
        "industry": {"role": "dimension"},
        "month": {"role": "dimension"},
        "kwh": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT", "MIN", "MAX"]},
        "address": {"role": "never_output"},
    },
    "joins": [{"with": "mine", "on": ["uscc"]}],
}


def usage_rows() -> pa.Table:
    """150 companies in four regions over 4 months, plus 2 companies alone in 舟山 (under k)."""
    uscc, region, industry, month, kwh, address = [], [], [], [], [], []
    regions = ["杭州", "宁波", "温州", "绍兴"]
    for c in range(152):
        for m in range(1, 5):
            uscc.append(f"91330100MA{c:07d}")
            region.append("舟山" if c >= 150 else regions[c % 4])
            industry.append(["制造", "服务", "农业"][c % 3])
            month.append(m)
            kwh.append(float(1000 + c * 10 + m))
            address.append(f"路{c}号")
    return pa.table({"uscc": uscc, "region": region, "industry": industry,
                     "month": pa.array(month, pa.int32()), "kwh": kwh, "address": address})


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@dataclass
class World:
    provider: Client
    consumer: Client
    entitlement_id: int
    data: pa.Table


def build(orgs: Orgs, rules: dict[str, object] | None = None,
          quotas: dict[str, int] | None = None) -> World:
    provider = orgs.new(["provider"], "浙江电网公司")
    consumer = orgs.new(["consumer"], "杭州银行")
    provider.create_product(SLUG, "企业用电量")
    provider.create_table(SLUG, "usage")
    data = usage_rows()
    provider.ingest(SLUG, "usage", parquet_bytes(data), format="parquet")
    provider.set_analysis_rules(SLUG, "usage", rules or RULES)
    e = provider.grant_entitlement(consumer.org_id,  # type: ignore[attr-defined]
                                   SLUG, modes=["sandbox"], quotas=quotas or {})
    return World(provider, consumer, e.id, data)


@pytest.fixture
def world(orgs: Orgs) -> World:
    return build(orgs)
