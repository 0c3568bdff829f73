"""Deterministic, realistic demo tables written as Parquet files."""

from __future__ import annotations

import math
import random
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shugu.demo.regions import CITIES, INDUSTRIES, SCALES


def _months(count: int, first_year: int = 2022) -> list[date]:
    return [date(first_year + m // 12, m % 12 + 1, 1) for m in range(count)]


def electricity_use(path: Path, rows: int, seed: int = 20261126) -> int:
    """企业月度用电量: one row per month x district x industry x enterprise scale."""
    rng = random.Random(seed)
    districts = [(city, code, name) for city, ds in CITIES.items() for code, name in ds]
    per_month = len(districts) * len(INDUSTRIES) * len(SCALES)
    months = _months(max(1, math.ceil(rows / per_month)))
    base = {(code, ind, scale): rng.uniform(0.3, 3.0)
            for _c, code, _n in districts for ind, _i, _w in INDUSTRIES for scale, _s in SCALES}
    cols: dict[str, list[object]] = {k: [] for k in (
        "stat_month", "city", "district_code", "district", "industry_code", "industry",
        "enterprise_scale", "enterprise_count", "electricity_kwh", "peak_load_kw",
        "yoy_change_pct")}
    previous: dict[tuple[str, str, str], float] = {}
    written = 0
    for month in months:
        season = 1.0 + 0.18 * math.cos((month.month - 7.5) / 12 * 2 * math.pi)
        for city, code, name in districts:
            for ind, ind_name, weight in INDUSTRIES:
                for scale, size in SCALES:
                    if written >= rows:
                        break
                    key = (code, ind, scale)
                    count = max(1, int(base[key] * 40 / size * rng.uniform(0.9, 1.1)))
                    kwh = base[key] * weight * size * count * 1000 * season * rng.uniform(0.9, 1.1)
                    last = previous.get(key)
                    cols["stat_month"].append(month)
                    cols["city"].append(city)
                    cols["district_code"].append(code)
                    cols["district"].append(name)
                    cols["industry_code"].append(ind)
                    cols["industry"].append(ind_name)
                    cols["enterprise_scale"].append(scale)
                    cols["enterprise_count"].append(count)
                    cols["electricity_kwh"].append(int(kwh))
                    cols["peak_load_kw"].append(round(kwh / 720 * rng.uniform(1.2, 1.8), 1))
                    cols["yoy_change_pct"].append(
                        None if last is None else round((kwh / last - 1) * 100, 2))
                    if month.month == 12:
                        previous[key] = kwh
                    written += 1
    table = pa.table({
        **{k: v for k, v in cols.items() if k not in ("stat_month", "enterprise_count",
                                                      "electricity_kwh", "peak_load_kw",
                                                      "yoy_change_pct")},
        "stat_month": pa.array(cols["stat_month"], pa.date32()),
        "enterprise_count": pa.array(cols["enterprise_count"], pa.int32()),
        "electricity_kwh": pa.array(cols["electricity_kwh"], pa.int64()),
        "peak_load_kw": pa.array(cols["peak_load_kw"], pa.float64()),
        "yoy_change_pct": pa.array(cols["yoy_change_pct"], pa.float64()),
    })
    order = ["stat_month", "city", "district_code", "district", "industry_code", "industry",
             "enterprise_scale", "enterprise_count", "electricity_kwh", "peak_load_kw",
             "yoy_change_pct"]
    pq.write_table(table.select(order), path)
    return table.num_rows


def prosperity_index(path: Path, seed: int = 7) -> int:
    """用电景气指数: monthly index per city and industry (base 2022-01 = 100)."""
    rng = random.Random(seed)
    months = _months(36)
    rows: dict[str, list[object]] = {"stat_month": [], "city": [], "industry_code": [],
                                     "industry": [], "index_value": []}
    for city in CITIES:
        for ind, name, _w in INDUSTRIES:
            level = 100.0
            for month in months:
                rows["stat_month"].append(month)
                rows["city"].append(city)
                rows["industry_code"].append(ind)
                rows["industry"].append(name)
                rows["index_value"].append(round(level, 2))
                level *= rng.uniform(0.97, 1.04)
    table = pa.table({**rows, "stat_month": pa.array(rows["stat_month"], pa.date32())})
    pq.write_table(table, path)
    return table.num_rows
