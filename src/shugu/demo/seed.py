"""Seeds the demo exchange through the same service functions the API uses."""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from shugu.catalog import products, schemas
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.catalog.models import Product
from shugu.contracts import negotiation, offers
from shugu.contracts.models import Offer
from shugu.contracts.schemas import NegotiationIn, OfferIn
from shugu.demo import data
from shugu.identity import schemas as id_schemas
from shugu.identity import service as identity
from shugu.identity.models import Organization, User
from shugu.identity.principal import Principal
from shugu.identity.uscc import complete
from shugu.runtime import Exchange

PROVIDER = ("91330000704202345", "浙江数谷示范电网有限公司", "Zhejiang Demo Grid Co., Ltd.",
            ["provider"], "grid")
CONSUMER = ("91330100MA28D3M8B", "杭州示范商业银行股份有限公司", "Hangzhou Demo Commercial Bank",
            ["consumer"], "bank")
AUDITOR = ("11330000MB1D2M3A4", "浙江省数据局（示范）", "Zhejiang Data Bureau (demo)",
           ["auditor"], "auditor")

POWER = schemas.ProductIn(
    slug="zj-enterprise-power-monthly",
    title_zh="浙江省企业月度用电量（按区县、行业、规模）",
    title_en="Monthly electricity use of enterprises in Zhejiang by district, industry and size",
    description_zh="覆盖浙江省11个设区市90个县（市、区），按国民经济行业门类和企业规模统计的"
                   "月度用电量、最大负荷与同比变化，可用于产业景气监测、绿色信贷与普惠金融风控。",
    description_en="Monthly electricity consumption, peak load and year-on-year change of "
                   "enterprises in all 90 county-level divisions of Zhejiang, by GB/T 4754 "
                   "industry section and enterprise size; for economic monitoring, green credit "
                   "and SME lending risk models.",
    tags=["电力", "用电量", "企业", "浙江", "energy", "electricity", "credit"],
    category="能源 energy", update_frequency="monthly",
    data_source="营销系统抄表数据按区县、行业、规模汇总（自有数据，已去标识化，不含单户数据）",
    scenario="银行绿色信贷与普惠金融风控；政府产业经济运行监测",
)
INDEX = schemas.ProductIn(
    slug="zj-power-prosperity-index",
    title_zh="浙江省分行业用电景气指数",
    title_en="Zhejiang electricity-based industry prosperity index",
    description_zh="以2022年1月为基期（100），按设区市和行业门类编制的月度用电景气指数。",
    description_en="Monthly prosperity index by city and industry, based on electricity use "
                   "(January 2022 = 100).",
    tags=["电力", "景气指数", "宏观经济", "index", "economy"],
    category="能源 energy", update_frequency="monthly",
    data_source="由企业月度用电量数据加工形成（数据加工使用权）",
    scenario="宏观经济研判、行业研究",
    sample_rows=5,
)

# The sandbox may count and sum enterprises' use by month, city, industry and size; a
# county (district_code) is the unit the threshold counts, and its name would name it.
POWER_RULES = {
    "mode": "aggregate", "min_identities": 3,
    "columns": {
        "district_code": {"role": "identity"},
        "district": {"role": "never_output"},
        **{c: {"role": "dimension"} for c in ("stat_month", "city", "industry_code",
                                                "industry", "enterprise_scale")},
        "enterprise_count": {"role": "aggregatable", "functions": ["SUM"]},
        "electricity_kwh": {"role": "aggregatable", "functions": ["SUM", "AVG", "MIN", "MAX"]},
        "peak_load_kw": {"role": "aggregatable", "functions": ["SUM", "AVG", "MAX"]},
        "yoy_change_pct": {"role": "aggregatable", "functions": ["AVG"]},
    },
}


@dataclass
class DemoReport:
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # who -> (org, token)
    products: list[tuple[str, str, int]] = field(default_factory=list)
    profile: Path | None = None
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)  # who -> (user, password)

    def print(self, console: Console, base_url: str, data_dir: Path, *,
              serving: bool = True) -> None:
        # Tokens and commands are printed whole on their own lines so they can be copied,
        # whatever the terminal's width; every command is run as printed by a test
        # (tests/docs), so each must work pasted into a shell once the server is up.
        say = functools.partial(console.print, soft_wrap=True, highlight=False)
        if serving:
            say(f"\n[bold green]shugu demo is ready[/bold green] at {base_url}")
        else:
            say(f"\n[bold green]shugu demo data is ready[/bold green] in {data_dir} (not "
                f"serving: --no-serve). Serve it with:\n  shugu serve --data-dir {data_dir}"
                f"\nand it answers at {base_url}:")
        say(f"  web portal:        {base_url}/  (中文; English: {base_url}/lang/en)")
        say(f"  API docs:          {base_url}/api/v1/docs")
        say(f"  OpenAPI document:  {base_url}/api/v1/openapi.json")
        say(f"  public notices:    {base_url}/notices (公示)")
        say("\nDemo participants and their API tokens (valid 30 days; new ones each start):")
        for who, (org, token) in self.tokens.items():
            say(f"  {who:<16} {org}\n    {token}")
        say("\nProducts:")
        for slug, title, rows in self.products:
            say(f"  {slug} — {title} ({rows:,} rows)")
        say("\nPortal sign-ins (new passwords on each start of the demo):")
        for who, (username, password) in self.logins.items():
            say(f"  {who:<16} username {username:<10} password {password}")
        bank = self.tokens.get("consumer (bank)", ("", "<token>"))[1]
        op = self.tokens.get("operator", ("", "<token>"))[1]
        as_bank = f"shugu --url {base_url} --token {bank}"
        say("\nTry (the catalogue is public: no token needed to search it):")
        say(f"  curl -G --data-urlencode 'q=用电' {base_url}/api/v1/search")
        say(f"  shugu --url {base_url} search 用电")
        say(f"  shugu ledger verify --data-dir {data_dir}")
        say("\nThe bank holds two agreements (an annual subscription and a per-query plan); "
            "bill and settle them, then check a trade voucher offline:")
        say(f"  {as_bank} agreement list")
        say(f"  shugu --url {base_url} --token {op} billing run --until "
            f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        say(f"  shugu --url {base_url} --token {op} settlement create")
        say(f"  {as_bank} voucher list")
        say(f"  {as_bank} voucher evidence $({as_bank} voucher list -q | head -n 1) "
            "-o voucher.json")
        say(f"  shugu voucher verify voucher.json --url {base_url}")
        say("\nIn the portal, the bank's sandbox (/consumer/sandbox) answers aggregates over "
            "the power data, e.g.:")
        say(f'  SELECT city, SUM(electricity_kwh) AS kwh FROM "{POWER.slug}".monthly_use '
            "GROUP BY city")
        if self.profile is not None:
            say(f"\nThe bank's Delta Sharing profile: {self.profile}")
            say("  python -c \"import delta_sharing; print(delta_sharing.load_as_pandas("
                f"'{self.profile}#{POWER.slug}.default.monthly_use', limit=5))\"")
        say("")


def _policy(*extra: dict[str, object]) -> dict[str, object]:
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
            "permission": [{"action": "use", "constraint": [
                {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                 "rightOperand": ["share", "sandbox"]},
                {"leftOperand": "purpose", "operator": "isAnyOf",
                 "rightOperand": ["credit_risk", "internal_analytics", "academic_research"]},
                {"leftOperand": "recipientRole", "operator": "isAnyOf",
                 "rightOperand": ["consumer"]}, *extra],
                "duty": [{"action": "delete"}]}],
            "prohibition": [{"action": "distribute"}, {"action": "sell"}]}


# (product, offer title, plan, period, price in fen, extra constraints, approval)
OFFERS = (
    (POWER.slug, "年度订阅 annual subscription", "subscription", "year", 12_000_000,
     ({"leftOperand": "epsilon", "operator": "lteq", "rightOperand": 10.0},), "instant"),
    (POWER.slug, "模型训练 model training (needs approval)", "one_time", None, 50_000_000,
     (), "manual"),
    (INDEX.slug, "按次计费 per query", "per_query", None, 500,
     ({"leftOperand": "count", "operator": "lteq", "rightOperand": 10_000,
       "unit": "queries"},), "instant"),
)


def _share_with_the_bank(ex: Exchange, grid: Principal, bank_id: int,
                         report: DemoReport) -> None:
    """The grid publishes offers; the bank takes the instant ones through the negotiation
    (an agreement each, frozen on the ledger, creating its entitlement) and gets a Delta
    Sharing profile."""
    with ex.transaction() as s:
        bank_org = s.get(Organization, bank_id)
        assert bank_org is not None
        bank = _principal(s, _admin_of(s, bank_org))
        if s.scalar(select(Offer.id).limit(1)) is None:
            for slug, title, plan, period, price, extra, approval in OFFERS:
                offer = offers.create(s, grid, slug, OfferIn(
                    title=title, plan=plan, period=period, price_fen=price,  # type: ignore[arg-type]
                    approval=approval, policy=_policy(*extra)))  # type: ignore[arg-type]
                if approval == "instant":
                    negotiation.request(s, bank, NegotiationIn(
                        offer_id=offer.id, purpose="credit_risk",
                        purpose_text="小微企业信贷风控 SME credit risk"))
    with ex.transaction() as s:
        who = _principal(s, _admin_of(s, s.get(Organization, bank_id)))  # type: ignore[arg-type]
        token, secret = identity.create_token(
            s, who, id_schemas.TokenIn(name="demo profile", expires_in_days=30), ex.token_ttl,
            scope="sharing")
    path = ex.settings.resolved_data_dir() / "bank.share"
    profile = {"shareCredentialsVersion": 1, "bearerToken": secret,
               "endpoint": f"{ex.settings.base_url()}/delta-sharing"}
    if token.expires_at is not None:
        profile["expirationTime"] = token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    path.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    report.profile = path


def _list_through_review(ex: Exchange, grid: Principal, operator: Principal,
                         console: Console) -> None:
    """The demo products go through listing review like any other: the grid submits (the
    compliance scan and quality report run), the operator approves with the default split."""
    from shugu.review import service as review
    from shugu.review.models import Listing
    from shugu.review.schemas import ApproveIn

    for spec in (POWER, INDEX):
        with ex.read() as s:
            status = s.scalar(select(Product.status).where(Product.slug == spec.slug))
        if status in review.SUBMITTABLE:
            with console.status(f"listing review of {spec.slug}: compliance scan, quality …"):
                review.submit(ex, grid, spec.slug)
            status = "in_review"
        if status == "in_review":
            with ex.transaction() as s:
                listing_id = s.scalar(
                    select(Listing.id).join(Product, Product.id == Listing.product_id)
                    .where(Product.slug == spec.slug, Listing.status == "in_review"))
                assert listing_id is not None
                review.approve(s, operator, listing_id, ApproveIn(note="demo"))


def _analysis_rules(ex: Exchange, grid: Principal) -> None:
    from shugu.catalog.models import DataTable
    from shugu.sandbox import rules
    from shugu.sandbox.schemas import RulesIn

    with ex.transaction() as s:
        table = s.scalar(select(DataTable).join(Product, Product.id == DataTable.product_id)
                         .where(Product.slug == POWER.slug, DataTable.name == "monthly_use"))
        if table is not None and rules.latest(s, table.id) is None:
            rules.set_rules(s, grid, POWER.slug, "monthly_use", RulesIn.model_validate(POWER_RULES))


def _principal(session: object, user: User) -> Principal:
    return identity.principal_for(user)


def _admin_of(session: object, org: Organization) -> User:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    user = session.scalar(select(User).where(User.org_id == org.id, User.is_admin.is_(True))
                          .order_by(User.id))
    assert user is not None
    return user


def _ensure_org(ex: Exchange, operator: Principal, spec: tuple[str, str, str, list[str], str],
                ) -> int:
    uscc, name, name_en, roles, username = spec
    uscc = complete(uscc)  # specs hold the first 17 characters
    with ex.transaction() as s:
        org = s.scalar(select(Organization).where(Organization.uscc == uscc))
        if org is None:
            org, *_ = identity.create_organization(
                s, operator, id_schemas.OrganizationIn(
                    uscc=uscc, name=name, name_en=name_en, roles=roles,  # type: ignore[arg-type]
                    admin_username=username), ex.token_ttl)
        return org.id


def seed(ex: Exchange, *, rows: int, console: Console) -> DemoReport:
    report = DemoReport()
    with ex.read() as s:
        platform = s.scalar(select(Organization).where(Organization.is_platform.is_(True)))
        assert platform is not None
        operator = _principal(s, _admin_of(s, platform))
    org_ids = {spec[4]: _ensure_org(ex, operator, spec) for spec in (PROVIDER, CONSUMER, AUDITOR)}
    with ex.read() as s:
        grid = _principal(s, _admin_of(s, s.get(Organization, org_ids["grid"])))  # type: ignore[arg-type]
    with ex.read() as s:
        have = set(s.scalars(select(Product.slug)))
    with tempfile.TemporaryDirectory(dir=ex.settings.uploads_dir.parent) as tmp:
        for spec, table_name, make in (
            (POWER, "monthly_use", lambda p: data.electricity_use(p, rows)),
            (INDEX, "index_monthly", data.prosperity_index),
        ):
            if spec.slug in have:
                continue
            path = Path(tmp) / f"{table_name}.parquet"
            with console.status(f"generating demo data for {spec.slug} …"):
                count = make(path)
            with ex.transaction() as s:
                products.create_product(s, grid, spec)
                products.create_table(s, grid, spec.slug, schemas.TableIn(name=table_name))
            with console.status(f"ingesting {count:,} rows into {spec.slug} …"):
                ingest_file(ex, grid, spec.slug, table_name, path, mode="append",
                            options=IngestOptions(format="parquet"),
                            source_name=path.name)
            with ex.transaction() as s:
                products.publish_revision(s, grid, spec.slug, schemas.RevisionIn(
                    name="2022-2024", note="首次发布 initial release"))
    _list_through_review(ex, grid, operator, console)
    _analysis_rules(ex, grid)
    with ex.transaction() as s:
        for slug in (POWER.slug, INDEX.slug):
            product = s.scalar(select(Product).where(Product.slug == slug))
            if product is not None:
                report.products.append((slug, product.title_zh,
                                        sum(t.row_count for t in product.tables)))
        for label, key in (("operator", None), ("provider (grid)", "grid"),
                           ("consumer (bank)", "bank"), ("auditor", "auditor")):
            org = platform if key is None else s.get(Organization, org_ids[key])
            assert org is not None
            who = _principal(s, _admin_of(s, org))
            _token, secret = identity.create_token(
                s, who, id_schemas.TokenIn(name="demo", expires_in_days=30), ex.token_ttl)
            report.tokens[label] = (org.name, secret)
            # Portal sign-ins: a fresh password each start, like the tokens.
            password = identity.reset_password(s, operator, org.id, who.user_id, None)
            assert password is not None
            report.logins[label] = (who.username, password)
    _share_with_the_bank(ex, grid, org_ids["bank"], report)
    from shugu.app import sign_tree_head

    sign_tree_head(ex)
    return report
