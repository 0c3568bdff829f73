"""Catalog search over 100,000 bilingual products on SQLite: shugu's index vs a LIKE scan.

    .venv/bin/python bench/search.py [--products 100000] [--rounds 5] [--rebuild]
    .venv/bin/python bench/search.py --database-url postgresql://…/empty_db   # same on PG

Builds (once, cached under bench/out/) a SQLite exchange with realistic Chinese/English
products, then runs the same mix of queries — Chinese 2-4 character terms, English words and
prefixes, with and without filters, first and later pages, and a blank query — through
shugu's search and through the naive baseline (`LIKE '%term%'` over the text columns and
tags), interleaved, and prints p50/p95 of both and their ratio. Target: shugu p95 < 50 ms.
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

from sqlalchemy import func, insert, select, text

from shugu.catalog import search
from shugu.catalog.models import Product, ProductTag, SearchTerm
from shugu.config import Settings
from shugu.identity.models import Organization
from shugu.pagination import encode_token
from shugu.runtime import Exchange

CACHE = Path(__file__).parent / "out"  # git-ignored
BUILD_VERSION = 4  # bump when the generated data or the index format changes

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


def load(ex: Exchange, n: int) -> None:
    """Write n products, their tags and their index entries into an empty exchange."""
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
        # Core inserts (executemany), not the ORM's bulk path: ten times faster here.
        conn = s.connection()
        conn.execute(insert(Product.__table__), data.products)
        conn.execute(insert(ProductTag.__table__), data.tags)
        for chunk in range(0, n, 5000):
            # The same terms and weights search.index_product writes, in bulk.
            rows = [{"term": term, "product_id": p["id"], "weight": weight}
                    for p in data.products[chunk:chunk + 5000]
                    if p["status"] == search.SEARCHABLE_STATUS
                    for term, weight in search.product_terms(Product(**p)).items()]
            conn.execute(insert(SearchTerm.__table__), rows)
            print(f"\r  indexed {min(chunk + 5000, n):,} / {n:,}", end="", flush=True)
    print()
    with ex.read() as s:
        terms = s.scalar(select(func.count()).select_from(SearchTerm))
    print(f"  loaded {n:,} products, {terms:,} index entries in "
          f"{time.perf_counter() - started:.0f} s")


def open_exchange(n: int, rebuild: bool, url: str | None = None) -> Exchange:
    """The cached SQLite exchange (built on first use), or the database at `url`, which is
    loaded if it holds no products yet."""
    if url is not None:
        ex = Exchange.open(Settings(data_dir=CACHE / "data", database_url=url))
        with ex.read() as s:
            count = s.scalar(select(func.count()).select_from(Product))
        if not count:
            load(ex, n)
            if ex.engine.dialect.name == "postgresql":
                # What autovacuum does in time: statistics, and the visibility map that lets
                # index-only scans skip the table.
                with ex.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
        elif count != n:
            ex.close()
            raise SystemExit(f"{url} already holds {count:,} products, not {n:,}")
        return ex
    path = CACHE / f"search-{n}-v{BUILD_VERSION}.db"
    if rebuild or not path.exists():
        print(f"building {path} …")
        building = path.with_suffix(".building")
        for old in CACHE.glob(building.name + "*"):
            old.unlink()
        ex = Exchange.open(Settings(data_dir=CACHE / "data",
                                    database_url=f"sqlite:///{building}"))
        load(ex, n)
        ex.close()
        building.rename(path)
    return Exchange.open(Settings(data_dir=CACHE / "data", database_url=f"sqlite:///{path}"),
                         migrate=False)


@dataclass(frozen=True)
class Query:
    q: str
    provider_org_id: int | None = None
    category: str | None = None
    tag: str | None = None
    offset: int = 0
    limit: int = 20

    def label(self) -> str:
        parts = [repr(self.q)]
        parts += [f"{k}={v}" for k, v in (("provider", self.provider_org_id),
                                          ("category", self.category), ("tag", self.tag))
                  if v is not None]
        if self.offset:
            parts.append(f"offset={self.offset}")
        return " ".join(parts)


CHINESE = ["用电", "用电量", "碳排放", "浙江", "杭州市", "信用评分", "客流量", "供应链", "制造业",
           "医疗", "港口", "纳税额", "深圳", "违约率", "新能源", "数据"]
ENGLISH = ["electricity", "elec", "carbon emissions", "credit", "manuf", "hangzhou", "logist",
           "foot traffic", "monthly", "quality", "semicond", "ports", "shenzhen"]
MIXED = ["浙江 electricity", "用电 monthly", "浙江 用电", "杭州 信用评分", "credit 金融",
         "数据 企业"]


def workload(providers: list[int], rng: random.Random) -> list[Query]:
    """Every query alone, then with a filter, and on a later page."""
    queries: list[Query] = []
    for q in CHINESE + ENGLISH + MIXED:
        queries.append(Query(q))
        queries.append(Query(q, offset=rng.choice([20, 100, 400])))
        filter_kind = rng.choice(["provider", "category", "tag"])
        if filter_kind == "provider":
            queries.append(Query(q, provider_org_id=rng.choice(providers)))
        elif filter_kind == "category":
            queries.append(Query(q, category=rng.choice(["能源", "金融", "工业", "交通"])))
        else:
            queries.append(Query(q, tag=rng.choice(["电力", "ESG", "credit", "民生"])))
    queries += [Query(""), Query("", category="能源", offset=200), Query("", tag="双碳")]
    return queries


def run_shugu(ex: Exchange, query: Query) -> int | None:
    with ex.read() as s:
        page = search.search(s, q=query.q, provider_org_id=query.provider_org_id,
                             category=query.category, tag=query.tag, limit=query.limit,
                             page_token=encode_token(query.offset) if query.offset else None)
    return page.total


TEXT_COLUMNS = ("title_zh", "title_en", "description_zh", "description_en", "category")


def run_baseline(ex: Exchange, query: Query) -> int:
    """The naive approach: every word as LIKE '%word%' over the text columns and the tags,
    case-insensitive like shugu's search, newest first."""
    like = "ILIKE" if ex.engine.dialect.name == "postgresql" else "LIKE"  # SQLite's ignores case
    where = ["p.status = 'active'"]
    params: dict[str, object] = {"limit": query.limit, "offset": query.offset}
    for i, word in enumerate(query.q.split()):
        params[f"w{i}"] = f"%{word}%"
        where.append("(" + " OR ".join(f"p.{c} {like} :w{i}" for c in TEXT_COLUMNS)
                     + f" OR EXISTS (SELECT 1 FROM product_tags t WHERE t.product_id = p.id"
                     f" AND t.tag {like} :w{i}))")
    if query.provider_org_id is not None:
        where.append("p.provider_org_id = :provider")
        params["provider"] = query.provider_org_id
    if query.category is not None:
        where.append("p.category = :category")
        params["category"] = query.category
    if query.tag is not None:
        where.append("p.id IN (SELECT product_id FROM product_tags WHERE tag = :tag)")
        params["tag"] = query.tag
    condition = " AND ".join(where)
    with ex.read() as s:
        s.execute(text(
            "SELECT p.slug, p.title_zh, p.title_en, p.category, p.tags, o.name FROM products p"
            f" JOIN organizations o ON o.id = p.provider_org_id WHERE {condition}"
            " ORDER BY p.id DESC LIMIT :limit OFFSET :offset"), params).all()
        total: int = s.execute(text(f"SELECT COUNT(*) FROM products p WHERE {condition}"),
                               params).scalar_one()
    return total


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="times each query is run")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the SQLite file")
    parser.add_argument("--database-url", help="run on this database instead (e.g. an empty "
                        "PostgreSQL database, loaded on first use)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    ex = open_exchange(args.products, args.rebuild, args.database_url)
    with ex.read() as s:
        providers = list(s.scalars(select(Product.provider_org_id).distinct()))
    queries = workload(providers, random.Random(7))
    totals = {q: run_shugu(ex, q) for q in queries}
    # Sanity: a two-character Chinese word is one bigram, so both must count the same.
    two = [q for q in queries if len(q.q) == 2 and "\u4e00" <= q.q[0] <= "\u9fff"
           and not q.offset and totals[q] is not None]
    wrong = [q.label() for q in two if totals[q] != run_baseline(ex, q)]
    print(f"{ex.engine.dialect.name}: {len(queries)} queries x {args.rounds} rounds over "
          f"{args.products:,} products; "
          f"{sum(t is not None for t in totals.values())} counted exactly, the others ranked "
          f"their best candidates only")
    print(f"totals equal to the baseline's for {len(two) - len(wrong)}/{len(two)} "
          f"two-character Chinese queries {wrong or ''}")

    shugu: dict[Query, list[float]] = {q: [] for q in queries}
    baseline: dict[Query, list[float]] = {q: [] for q in queries}
    for q in queries:  # warm the page cache for both
        run_baseline(ex, q)
    for _ in range(args.rounds):
        for q in queries:
            shugu[q].append(timed(lambda q=q: run_shugu(ex, q)))
            baseline[q].append(timed(lambda q=q: run_baseline(ex, q)))
    ex.close()

    all_shugu = [t for ts in shugu.values() for t in ts]
    all_base = [t for ts in baseline.values() for t in ts]
    print(f"{'':10}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in (("baseline", all_base), ("shugu", all_shugu)):
        print(f"{name:10}{percentile(values, 50):10.2f}{percentile(values, 95):10.2f}"
              f"{max(values):10.2f}")
    p50, p95 = percentile(all_shugu, 50), percentile(all_shugu, 95)
    print(f"ratio baseline/shugu: p50 {percentile(all_base, 50) / p50:.1f}x, "
          f"p95 {percentile(all_base, 95) / p95:.1f}x")
    print("slowest shugu queries (median ms):")
    for q in sorted(queries, key=lambda q: -statistics.median(shugu[q]))[:6]:
        print(f"  {statistics.median(shugu[q]):8.2f}  {q.label()}")
    print(f"target p95 < 50 ms: {'met' if p95 < 50 else 'MISSED'} ({p95:.1f} ms)")


if __name__ == "__main__":
    main()
