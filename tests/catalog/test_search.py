"""Catalog search on both databases: Chinese and English, filters, pages, re-indexing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shugu.catalog import products, search
from shugu.catalog.models import Product, SearchTerm
from shugu.catalog.schemas import ProductHit, ProductIn, ProductPatch
from shugu.client import Client, ShuguAPIError
from shugu.errors import InvalidInput
from shugu.identity import service as identity
from shugu.identity.models import User
from shugu.identity.principal import Principal
from shugu.identity.schemas import OrganizationIn
from shugu.pagination import Page, encode_token
from shugu.runtime import Exchange
from tests.conftest import LiveServer, list_product, new_uscc


class Catalog:
    """Providers and products written through the service layer of a real exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.providers: list[Principal] = []

    def provider(self, name: str = "数据提供方") -> Principal:
        assert self.exchange.first_start is not None
        with self.exchange.transaction() as s:
            operator = s.scalars(select(User).where(
                User.username == self.exchange.first_start.username)).one()
            n = len(self.providers)
            _, admin, *_ = identity.create_organization(
                s, identity.principal_for(operator),
                OrganizationIn(uscc=new_uscc(), name=f"{name}{n}", roles=["provider"],
                               admin_username=f"provider{n}", admin_password="pass-word-1"),
                timedelta(days=1))
            principal = identity.principal_for(admin)
        self.providers.append(principal)
        return principal

    def add(self, who: Principal, slug: str, title_zh: str, **fields: Any) -> None:
        """A listed product. These tests are about search, so the product is marked listed
        directly; listing review itself (scan, decision) is tested in tests/review."""
        with self.exchange.transaction() as s:
            product = products.create_product(s, who,
                                              ProductIn(slug=slug, title_zh=title_zh, **fields))
            product.status = "listed"
            search.index_product(s, product)

    def update(self, who: Principal, slug: str, **fields: Any) -> None:
        with self.exchange.transaction() as s:
            products.update_product(s, who, slug, ProductPatch(**fields))

    def find(self, q: str = "", *, provider: Principal | None = None,
             category: str | None = None, tag: str | None = None, limit: int | None = None,
             page_token: str | None = None) -> Page[ProductHit]:
        with self.exchange.read() as s:
            return search.search(s, q=q, provider_org_id=provider.org_id if provider else None,
                                 category=category, tag=tag, limit=limit,
                                 page_token=page_token)

    def slugs(self, q: str = "", **filters: Any) -> list[str]:
        return [h.slug for h in self.find(q, **filters).items]

    def everything(self, q: str = "", *, limit: int, **filters: Any) -> list[ProductHit]:
        """All hits, page by page."""
        hits: list[ProductHit] = []
        token: str | None = None
        while True:
            page = self.find(q, limit=limit, page_token=token, **filters)
            assert len(page.items) <= limit
            hits.extend(page.items)
            token = page.next_page_token
            if token is None:
                return hits


@pytest.fixture
def catalog(exchange: Exchange) -> Catalog:
    return Catalog(exchange)


@pytest.fixture
def sample(catalog: Catalog) -> tuple[Principal, Principal]:
    """Two providers with a small bilingual catalog."""
    grid, bank = catalog.provider("浙江电网"), catalog.provider("杭州银行")
    catalog.add(grid, "power-use", "企业月度用电量",
                title_en="Monthly electricity consumption of enterprises",
                description_zh="浙江省规模以上工业企业的月度用电数据。", tags=["电力", "energy"],
                category="能源")
    catalog.add(grid, "water-use", "居民用水量", title_en="Household water consumption",
                description_en="Metered water use per district, monthly.", tags=["水务"],
                category="环境")
    catalog.add(grid, "carbon", "工业园区碳排放", title_en="Industrial park carbon emissions",
                description_zh="根据用电量和燃料消耗推算。", tags=["双碳", "ESG"], category="能源")
    catalog.add(bank, "sme-credit", "中小企业信用评分", title_en="SME credit scores",
                description_en="Scores derived from electricity bills and tax records.",
                tags=["金融", "credit"], category="金融")
    catalog.add(bank, "tax", "企业纳税额", title_en="Corporate tax payments", tags=["电力"],
                category="金融")
    return grid, bank


def test_chinese_words_inside_titles(catalog: Catalog, sample: object) -> None:
    assert catalog.slugs("用电") == ["power-use", "carbon"]  # title beats description
    assert catalog.slugs("月度用电量") == ["power-use"]
    # A run of Chinese characters matches like a substring; spaces separate words.
    assert catalog.slugs("企业用电") == []
    assert catalog.slugs("企业 用电") == ["power-use"]
    assert catalog.slugs("用电 信用") == []
    assert catalog.slugs("碳") == ["carbon"]  # a single character
    assert catalog.slugs("用水量") == ["water-use"]


def test_english_words_prefixes_case_and_full_width(catalog: Catalog, sample: object) -> None:
    assert catalog.slugs("electricity") == ["power-use", "sme-credit"]
    assert catalog.slugs("elec") == ["power-use", "sme-credit"]
    assert catalog.slugs("ELECTRIC consumption") == ["power-use"]
    assert catalog.slugs("ｅｌｅｃｔｒｉｃｉｔｙ") == ["power-use", "sme-credit"]
    assert catalog.slugs("consumption") == ["water-use", "power-use"]  # newest first on a tie
    assert catalog.slugs("electricityx") == []
    assert catalog.slugs("ESG") == ["carbon"]


def test_mixed_chinese_and_english(catalog: Catalog, sample: object) -> None:
    assert catalog.slugs("用电 monthly") == ["power-use"]
    assert catalog.slugs("企业 credit") == ["sme-credit"]
    assert catalog.slugs("能源 carbon") == ["carbon"]  # category and title


def test_hits_carry_product_fields_and_scores(catalog: Catalog,
                                              sample: tuple[Principal, Principal]) -> None:
    grid, _ = sample
    page = catalog.find("用电")
    assert page.total == 2
    first, second = page.items
    assert (first.title_zh, first.title_en) == ("企业月度用电量",
                                                "Monthly electricity consumption of enterprises")
    assert first.provider_org_id == grid.org_id
    assert first.provider_name == "浙江电网0"
    assert (first.category, first.tags) == ("能源", ["电力", "energy"])
    # title and description hits versus a description hit alone
    assert (first.score, second.score) == (search.TITLE + search.DESCRIPTION, search.DESCRIPTION)


def test_tags_outrank_descriptions(catalog: Catalog, sample: object) -> None:
    hits = catalog.find("电力").items
    assert [h.slug for h in hits] == ["tax", "power-use"]
    assert {h.score for h in hits} == {search.TAGS}
    assert catalog.slugs("credit") == ["sme-credit"]
    assert catalog.slugs("records") == ["sme-credit"]  # English description
    assert catalog.slugs("燃料") == ["carbon"]  # Chinese description


def test_filters_by_provider_category_and_tag(catalog: Catalog,
                                              sample: tuple[Principal, Principal]) -> None:
    grid, bank = sample
    assert catalog.slugs("企业", provider=bank) == ["tax", "sme-credit"]
    assert catalog.slugs("企业", provider=grid) == ["power-use"]
    assert catalog.slugs("企业", category="金融") == ["tax", "sme-credit"]
    assert catalog.slugs("企业", tag="电力") == ["power-use", "tax"]
    assert catalog.slugs("企业", tag="电力", category="能源") == ["power-use"]
    assert catalog.slugs("企业", tag="电力", provider=bank, category="能源") == []
    assert catalog.slugs("elec", provider=bank) == ["sme-credit"]
    assert catalog.slugs("", category="能源") == ["carbon", "power-use"]  # newest first
    assert catalog.slugs("", tag="电力", provider=grid) == ["power-use"]
    assert catalog.find("", tag="no-such-tag").total == 0


def test_blank_query_lists_everything_newest_first(catalog: Catalog, sample: object) -> None:
    page = catalog.find("  ")
    assert [h.slug for h in page.items] == ["tax", "sme-credit", "carbon", "water-use",
                                            "power-use"]
    assert page.total == 5
    assert {h.score for h in page.items} == {0}


def test_punctuation_finds_nothing_and_long_queries_are_refused(
        catalog: Catalog, sample: tuple[Principal, Principal]) -> None:
    assert catalog.find("？！…——, . ;").total == 0
    with pytest.raises(InvalidInput) as info:
        catalog.find("用电" * 101)
    assert info.value.code == "invalid_query"
    # Too many bigrams for one query: the bigrams tiling a long run still find its text.
    text = ("本数据产品汇集浙江省一万二千家规模以上工业企业"
            "自二零二一年以来的月度用电量与峰谷分时数据")
    catalog.add(sample[0], "long-text", "长文本", description_zh=f"{text}。")
    assert len(text) > search.MAX_CLAUSES + 1
    assert catalog.slugs(text) == ["long-text"]
    with pytest.raises(InvalidInput):
        catalog.find(" ".join(f"w{i:03d}" for i in range(40)))


def test_pages_are_stable_without_duplicates(catalog: Catalog) -> None:
    grid, bank = catalog.provider(), catalog.provider()
    for i in range(23):
        title = "区域用电量统计" if i % 3 else "区域用电量"
        catalog.add(grid if i % 2 else bank, f"p{i:02d}", title,
                    title_en=f"Regional power statistics {i}", category="能源",
                    tags=["电力"] if i % 4 == 0 else [])
    for q, filters in [("用电", {}), ("用电 统计", {}), ("power", {"category": "能源"}),
                       ("用电", {"provider": grid}), ("", {}), ("用电", {"tag": "电力"})]:
        whole = catalog.find(q, limit=100, **filters)
        paged = catalog.everything(q, limit=4, **filters)
        assert [h.slug for h in paged] == [h.slug for h in whole.items], (q, filters)
        assert len({h.slug for h in paged}) == len(paged) == whole.total
        scores = [h.score for h in paged]
        assert scores == sorted(scores, reverse=True)
    assert len(catalog.everything("用电", limit=5)) == 23
    last = catalog.find("用电", limit=5, page_token=catalog.find("用电", limit=20)
                        .next_page_token)
    assert (len(last.items), last.next_page_token, last.total) == (3, None, 23)
    for q in ("用电", "用电 统计", ""):  # past the end: no items, still the total
        beyond = catalog.find(q, page_token=encode_token(500))
        assert (beyond.items, beyond.next_page_token) == ([], None)
        assert beyond.total == catalog.find(q).total


def test_update_reindexes(catalog: Catalog, exchange: Exchange) -> None:
    who = catalog.provider()
    catalog.add(who, "prod", "企业月度用电量", title_en="Monthly power use", tags=["电力"])
    catalog.update(who, "prod", title_zh="居民季度用水量", title_en="Quarterly water use",
                   tags=["水务"])
    assert catalog.slugs("用电") == catalog.slugs("power") == catalog.slugs("电力") == []
    assert catalog.slugs("用水") == catalog.slugs("water") == catalog.slugs("水务") == ["prod"]
    catalog.update(who, "prod", description_en="Includes electricity for pumps.")
    assert catalog.slugs("electricity water") == ["prod"]
    with exchange.read() as s:
        terms = set(s.scalars(select(SearchTerm.term)))
    assert "用电" not in terms and "power" not in terms


def test_withdrawn_products_are_not_found(catalog: Catalog, exchange: Exchange) -> None:
    who = catalog.provider()
    catalog.add(who, "kept", "企业用电量")
    catalog.add(who, "gone", "企业用电量")
    with exchange.transaction() as s:
        product = s.scalars(select(Product).where(Product.slug == "gone")).one()
        product.status = "withdrawn"
        search.index_product(s, product)
    assert catalog.slugs("用电") == catalog.slugs("") == ["kept"]
    assert catalog.find("").total == 1
    # Even an index entry that outlived a status change does not show the product.
    with exchange.transaction() as s:
        s.scalars(select(Product).where(Product.slug == "kept")).one().status = "withdrawn"
    assert catalog.slugs("用电") == []


def test_broad_queries_rank_the_best_candidates(catalog: Catalog,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    who = catalog.provider()
    for i in range(12):  # 企业 in every title, 用电 in two titles and eight descriptions
        catalog.add(who, f"p{i:02d}", "企业用电" if i in (3, 7) else "企业数据",
                    description_zh="用电数据" if i < 10 else "统计数据",
                    title_en=["power", "powered", "powerful"][i % 3])
    monkeypatch.setattr(search, "CHECKS", 5)
    monkeypatch.setattr(search, "MERGE_ENTRIES", 8)
    # Both words match more than 8 products: the 5 best entries of one of them are ranked.
    page = catalog.find("企业 用电", limit=100)
    assert page.total is None  # counting every match is what the cap avoids
    matches = {f"p{i:02d}" for i in range(10)}
    assert page.items[0].slug == "p07" and {h.slug for h in page.items} <= matches
    assert 0 < len(page.items) <= 5
    assert [h.score for h in page.items] == sorted((h.score for h in page.items), reverse=True)
    assert catalog.everything("企业 用电", limit=2) == page.items
    # a prefix of many terms: a bounded slice of its entries
    broad = catalog.find("pow", provider=who, limit=100)
    assert broad.total is None and 0 < len(broad.items) <= 5
    assert catalog.everything("pow", provider=who, limit=2) == broad.items
    # a single common word is still exact: its index entries are already in rank order
    single = catalog.find("用电", limit=3)
    assert single.total == 10 and [h.slug for h in single.items] == ["p07", "p03", "p09"]
    # and a filter that narrows the candidates below the cap makes the answer exact again
    assert catalog.find("企业 用电", tag="none").total == 0


def test_parse_query() -> None:
    C = search.Clause
    assert search.parse_query("企业月度 elec 5G ｉｏｔ 电") == [
        C("企业"), C("业月"), C("月度"), C("elec", "eled"), C("5g"), C("iot", "iou"), C("电")]
    assert search.parse_query("用电 用电, ！") == [C("用电")]
    tiled = search.parse_query("".join(chr(0x4E00 + i) for i in range(40)))
    assert len(tiled) == 20 and tiled[:2] == [C("\u4e00\u4e01"), C("\u4e02\u4e03")]


def test_product_terms_weigh_fields() -> None:
    terms = search.product_terms(Product(
        title_zh="企业用电", title_en="Power use", tags=["电力", "ＥＳＧ"], category="能源",
        description_zh="企业用电，按月，季。", description_en="Power of firms"))
    assert terms["用电"] == search.TITLE + search.DESCRIPTION
    assert terms["power"] == search.TITLE + search.DESCRIPTION
    assert terms["esg"] == terms["电力"] == terms["力"] == search.TAGS
    assert terms["能源"] == search.CATEGORY
    assert terms["firms"] == terms["按月"] == search.DESCRIPTION
    assert "按" not in terms  # no unigrams from descriptions…
    assert terms["季"] == search.DESCRIPTION  # …but for a lone character


def test_consumers_search_over_http(provider: Client, consumer: Client, operator: Client,
                                    server: LiveServer) -> None:
    provider.create_product("power-use", "企业月度用电量", title_en="Monthly power use",
                            tags=["电力"], category="能源")
    assert consumer.search("用电").items == []  # a draft is not in the catalog
    list_product(provider, operator, "power-use")
    page = consumer.search("用电", category="能源", tag="电力",
                           provider_org_id=provider.org_id)  # type: ignore[attr-defined]
    assert [h.slug for h in page.items] == ["power-use"] and page.total == 1
    assert page.items[0].provider_name.startswith("浙江电网公司")
    for call, code in [(lambda: consumer.search("x" * 201), "invalid_query"),
                       (lambda: consumer.search("用电", page_token="nope"),
                        "invalid_page_token"),
                       (lambda: consumer.search("用电", limit=0), "invalid_request")]:
        with pytest.raises(ShuguAPIError) as info:
            call()
        assert (info.value.status, info.value.code) == \
            (422 if code == "invalid_request" else 400, code)
    # The catalogue is public: the same answer without a token; a bad token is still 401.
    anonymous = httpx.get(f"{server.url}/api/v1/search", params={"q": "用电"}, timeout=60)
    assert anonymous.status_code == 200
    assert [h["slug"] for h in anonymous.json()["items"]] == ["power-use"]
    forged = httpx.get(f"{server.url}/api/v1/search", params={"q": "用电"},
                       headers={"Authorization": "Bearer shg_x_y"}, timeout=60)
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "token_invalid")


WORDS_ZH = ["浙江", "杭州", "企业", "居民", "用电量", "用水量", "碳排放", "信用评分", "月度",
            "年度", "电力", "金融", "物流", "数据"]
WORDS_EN = ["zhejiang", "hangzhou", "enterprise", "electricity", "electric", "water", "carbon",
            "credit", "monthly", "annual", "power", "finance", "data"]
QUERIES = ["用电", "用电量", "电", "数据", "企业 用电", "浙江 月度", "信用评分", "elec",
           "electricity", "power data", "carbon 碳排", "zhe", "金融 credit", "年度 annual 数据",
           "水", "xyz", "居民用水", "elec 用电", "居民 elec", "ele"]


def _matches(terms: dict[str, int], clauses: list[search.Clause]) -> int | None:
    """Score of a product for the clauses by brute force, None if one does not match."""
    score = 0
    for c in clauses:
        weights = [w for t, w in terms.items()
                   if t == c.lo or (c.hi is not None and c.lo <= t < c.hi)]
        if not weights:
            return None
        score += max(weights)
    return score


def test_every_plan_gives_the_brute_force_answer(catalog: Catalog, exchange: Exchange,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    providers = [catalog.provider() for _ in range(3)]
    for i in range(40):
        zh, en = rng.sample(WORDS_ZH, 3), rng.sample(WORDS_EN, 3)
        catalog.add(providers[i % 3], f"prod-{i:02d}", "".join(zh), title_en=" ".join(en),
                    description_zh="，".join(rng.sample(WORDS_ZH, 2)),
                    description_en=" ".join(rng.sample(WORDS_EN, 2)),
                    tags=rng.sample(["电力", "金融", "ESG", "民生"], rng.randint(0, 2)),
                    category=rng.choice(["能源", "金融", None]))
    with exchange.transaction() as s:  # one withdrawn product, kept out of the index
        gone = s.scalars(select(Product).where(Product.slug == "prod-07")).one()
        gone.status = "withdrawn"
        search.index_product(s, gone)
    with exchange.read() as s:
        everything = list(s.scalars(select(Product).where(Product.status == "listed")))
        tags = {p.id: set(p.tags) for p in everything}

    def expected(q: str, provider: Principal | None, category: str | None,
                 tag: str | None) -> list[tuple[str, int]]:
        clauses = search.parse_query(q)
        found = []
        for p in everything:
            score = _matches(search.product_terms(p), clauses)
            if score is None or (provider and p.provider_org_id != provider.org_id) \
                    or (category and p.category != category) or (tag and tag not in tags[p.id]):
                continue
            found.append((-score, -p.id, p.slug))
        return [(slug, -score) for score, _, slug in sorted(found)]

    filters: list[dict[str, Any]] = [{}, {"provider": providers[1]}, {"category": "能源"},
                                     {"tag": "电力"}, {"tag": "金融", "category": "金融"}]
    variants: list[dict[str, int]] = [{}, {"MERGE_RATIO": 0}, {"MERGE_RATIO": 10**6},
                                      {"FILTER_RATIO": 0}, {"FILTER_RATIO": 0, "MERGE_RATIO": 0}]
    checked = 0
    for variant in variants:
        with monkeypatch.context() as m:
            for name, value in variant.items():
                m.setattr(search, name, value)
            for q in QUERIES:
                for f in filters:
                    want = expected(q, f.get("provider"), f.get("category"), f.get("tag"))
                    page = catalog.find(q, limit=100, **f)
                    assert [(h.slug, h.score) for h in page.items] == want, (variant, q, f)
                    assert page.total == len(want)
                    checked += bool(want)
    assert checked > 100  # most combinations find something
