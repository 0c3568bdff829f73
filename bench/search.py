"""Catalog search over 100,000 bilingual products on SQLite: shugu's index vs a LIKE scan.

    .venv/bin/python bench/search.py [--products 100000] [--rounds 5] [--rebuild]

Builds (once, cached under bench/out/) a SQLite exchange with realistic Chinese/English
products, then runs the same mix of queries — Chinese 2-4 character terms, English words and
prefixes, with and without filters, first and later pages — through shugu's search and
through the naive baseline (`LIKE '%term%'` over the text columns), and prints p50/p95 of
both and their ratio. Target: shugu p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from shugu.catalog import search
from shugu.catalog.models import Product
from shugu.config import Settings
from shugu.identity.models import Organization
from shugu.runtime import Exchange

CACHE = Path(__file__).parent / "out"  # git-ignored
BUILD_VERSION = 1  # bump when the generated data or the index format changes

REGIONS = [
    ("浙江省", "Zhejiang"), ("杭州市", "Hangzhou"), ("宁波市", "Ningbo"), ("江苏省", "Jiangsu"),
    ("南京市", "Nanjing"), ("苏州市", "Suzhou"), ("上海市", "Shanghai"), ("北京市", "Beijing"),
    ("广东省", "Guangdong"), ("深圳市", "Shenzhen"), ("广州市", "Guangzhou"),
    ("四川省", "Sichuan"), ("成都市", "Chengdu"), ("湖北省", "Hubei"), ("武汉市", "Wuhan"),
    ("山东省", "Shandong"), ("青岛市", "Qingdao"), ("福建省", "Fujian"), ("厦门市", "Xiamen"),
    ("天津市", "Tianjin"), ("重庆市", "Chongqing"), ("河南省", "Henan"), ("郑州市", "Zhengzhou"),
    ("陕西省", "Shaanxi"), ("西安市", "Xi'an"), ("安徽省", "Anhui"), ("合肥市", "Hefei"),
    ("湖南省", "Hunan"), ("长沙市", "Changsha"), ("江西省", "Jiangxi"), ("贵州省", "Guizhou"),
    ("云南省", "Yunnan"), ("辽宁省", "Liaoning"), ("大连市", "Dalian"), ("河北省", "Hebei"),
    ("山西省", "Shanxi"), ("广西", "Guangxi"), ("海南省", "Hainan"), ("内蒙古", "Inner Mongolia"),
    ("新疆", "Xinjiang"), ("长三角", "Yangtze River Delta"), ("粤港澳大湾区", "Greater Bay Area"),
]
INDUSTRIES = [
    ("制造业", "manufacturing", "工业"), ("零售业", "retail", "商贸"),
    ("物流", "logistics", "交通"), ("银行业", "banking", "金融"), ("保险业", "insurance", "金融"),
    ("医疗", "healthcare", "医疗健康"), ("医药", "pharmaceutical", "医疗健康"),
    ("教育", "education", "教育"), ("农业", "agriculture", "农业"),
    ("建筑业", "construction", "工业"), ("餐饮业", "catering", "商贸"),
    ("旅游业", "tourism", "文旅"), ("电力", "power", "能源"), ("新能源", "new energy", "能源"),
    ("交通运输", "transportation", "交通"), ("房地产", "real estate", "商贸"),
    ("通信", "telecommunications", "通信"), ("化工", "chemical", "工业"),
    ("纺织业", "textile", "工业"), ("汽车", "automotive", "工业"), ("钢铁", "steel", "工业"),
    ("水务", "water utilities", "环境"), ("互联网", "internet", "通信"),
    ("电子商务", "e-commerce", "商贸"), ("航运", "shipping", "交通"),
    ("半导体", "semiconductor", "工业"), ("环保", "environmental protection", "环境"),
]
SUBJECTS = [
    ("企业", "enterprises"), ("中小企业", "SMEs"), ("居民", "households"),
    ("工业园区", "industrial parks"), ("商户", "merchants"), ("门店", "stores"),
    ("车辆", "vehicles"), ("港口", "ports"), ("医院", "hospitals"), ("学校", "schools"),
    ("个体工商户", "sole proprietors"), ("上市公司", "listed companies"),
]
METRICS = [
    ("用电量", "electricity consumption"), ("用水量", "water consumption"),
    ("用气量", "gas consumption"), ("碳排放", "carbon emissions"),
    ("营业收入", "operating revenue"), ("纳税额", "tax payments"),
    ("信用评分", "credit scores"), ("招聘需求", "job postings"), ("客流量", "foot traffic"),
    ("交易额", "transaction volume"), ("货运量", "freight volume"),
    ("专利数量", "patent counts"), ("出口额", "export value"), ("价格指数", "price index"),
    ("空气质量", "air quality"), ("就诊人次", "patient visits"),
    ("社保缴纳", "social insurance contributions"), ("违约率", "default rates"),
    ("库存水平", "inventory levels"), ("订单量", "order volume"),
    ("能耗强度", "energy intensity"), ("设备运行状态", "equipment status"),
    ("经营异常", "business anomalies"), ("用工人数", "headcount"),
]
PERIODS = [("月度", "monthly"), ("季度", "quarterly"), ("年度", "annual"), ("日度", "daily"),
           ("周度", "weekly"), ("实时", "real-time")]
SOURCES = [("电网公司", "the grid company"), ("税务部门", "tax authorities"),
           ("统计部门", "statistics bureaus"), ("行业协会", "industry associations"),
           ("第三方平台", "third-party platforms"), ("物联网传感器", "IoT sensors"),
           ("银行流水", "bank statements"), ("政务公开数据", "open government data")]
SCENARIOS = [("信用评估", "credit assessment"), ("风险监测", "risk monitoring"),
             ("选址分析", "site selection"), ("精准营销", "precision marketing"),
             ("政策制定", "policy making"), ("供应链金融", "supply-chain finance"),
             ("碳核算", "carbon accounting"), ("城市治理", "urban governance")]
TAGS = ["电力", "energy", "金融", "credit", "碳中和", "ESG", "普惠金融", "城市治理", "统计",
        "宏观经济", "供应链", "风控", "IoT", "实时数据", "公共数据", "授权运营", "高频",
        "open-data", "交通出行", "医保", "民生", "双碳", "制造", "跨境", "消费", "就业"]


@dataclass
class Generated:
    products: list[dict[str, object]]
    tags: list[dict[str, object]]


def generate(n: int, provider_ids: list[int], rng: random.Random) -> Generated:
    products: list[dict[str, object]] = []
    tags: list[dict[str, object]] = []
    start = datetime(2023, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        region, industry, subject = (rng.choice(REGIONS), rng.choice(INDUSTRIES),
                                     rng.choice(SUBJECTS))
        metric, period, source = rng.choice(METRICS), rng.choice(PERIODS), rng.choice(SOURCES)
        scenario, year = rng.choice(SCENARIOS), rng.choice([2021, 2022, 2023, 2024, 2025])
        count = rng.randrange(50, 50_000)
        product_tags = rng.sample(TAGS, rng.randint(1, 4))
        if rng.random() < 0.5 and industry[0] not in product_tags:
            product_tags.append(industry[0])
        created = start + timedelta(minutes=i)
        products.append({
            "id": i, "slug": f"p{i:06d}", "provider_org_id": rng.choice(provider_ids),
            "title_zh": f"{region[0]}{industry[0]}{subject[0]}{period[0]}{metric[0]}",
            "title_en": f"{region[1]} {industry[1]} {subject[1]} {period[1]} {metric[1]}",
            "description_zh": (
                f"本数据产品汇集{region[0]}{count}家{industry[0]}{subject[0]}自{year}年以来的"
                f"{metric[0]}数据，{period[0]}更新，数据来源于{source[0]}，经清洗、脱敏和质量"
                f"核验后提供，可用于{scenario[0]}等场景。"),
            "description_en": (
                f"{period[1].capitalize()} {metric[1]} of {count} {industry[1]} {subject[1]} in "
                f"{region[1]} since {year}, sourced from {source[1]}, cleaned, de-identified "
                f"and quality-checked; suited to {scenario[1]}."),
            "tags": product_tags, "category": industry[2],
            "update_frequency": {"月度": "monthly", "季度": "quarterly", "年度": "yearly",
                                 "日度": "daily", "周度": "weekly"}.get(period[0], "realtime"),
            # A few products are withdrawn: search must not show them.
            "status": "active" if rng.random() < 0.97 else "withdrawn",
            "created_at": created, "updated_at": created,
        })
        tags.extend({"product_id": i, "tag": t} for t in product_tags)
    return Generated(products, tags)


def build(path: Path, n: int) -> None:
    """A migrated SQLite exchange holding n products, their tags and their index entries."""
    tmp = path.with_suffix(".building")
    for old in tmp.parent.glob(tmp.name + "*"):
        old.unlink()
    ex = Exchange.open(Settings(data_dir=tmp.parent / "data", database_url=f"sqlite:///{tmp}"))
    rng = random.Random(20240601)
    started = time.perf_counter()
    with ex.transaction() as s:
        orgs = [Organization(uscc=f"BENCH{k:013d}", name=f"数据提供方{k}",
                             name_en=f"Provider {k}", roles=["provider"]) for k in range(300)]
        s.add_all(orgs)
        s.flush()
        provider_ids = [o.id for o in orgs]
    data = generate(n, provider_ids, rng)
    with ex.transaction() as s:
        s.execute(Product.__table__.insert(), data.products)
        s.execute(text("INSERT INTO product_tags (product_id, tag) VALUES (:product_id, :tag)"),
                  data.tags)
        for chunk in range(0, n, 5000):
            rows = [(term, p["id"], weight)
                    for p in data.products[chunk:chunk + 5000]
                    for term, weight in search.product_terms(Product(**p)).items()]
            s.connection().exec_driver_sql(
                "INSERT INTO search_terms (term, product_id, weight) VALUES (?, ?, ?)", rows)
            print(f"\r  indexed {min(chunk + 5000, n):,} / {n:,}", end="", flush=True)
    print()
    with ex.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        terms = conn.exec_driver_sql("SELECT COUNT(*) FROM search_terms").scalar_one()
    ex.close()
    tmp.rename(path)
    print(f"  built {n:,} products, {terms:,} index entries in "
          f"{time.perf_counter() - started:.0f} s")


def open_exchange(n: int, rebuild: bool) -> Exchange:
    path = CACHE / f"search-{n}-v{BUILD_VERSION}.db"
    if rebuild or not path.exists():
        print(f"building {path} …")
        build(path, n)
    return Exchange.open(Settings(data_dir=CACHE / "data", database_url=f"sqlite:///{path}"),
                         migrate=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    open_exchange(args.products, args.rebuild).close()
