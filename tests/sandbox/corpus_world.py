"""The world the adversarial corpus attacks, and the checks that decide whether an attack
escaped (issue 12).

A person-level table (one row per person and month) with an identity column `pid`, four
dimensions (region, sector, cohort, month), two measures (kwh, visits) and a never-output
column (note), published twice by one provider: once under the restricted aggregation rule
("aggregate", exact, k = 10) and once under entity-level differential privacy ("dp").
The data is built so that a leak cannot be a coincidence:

- victim V1 sits in a big cell (25 people) but one of its rows has kwh 9,876,543.21 and
  visits 1,000,003: no sum of other rows (kwh < 2,000, visits multiples of 10) hits these;
- victim V2 is alone in its cell (杭州 服务 cohort 1937) with kwh 7,654,321.5;
- small cells: 舟山 (3 people), cohort 1948 (2 people), NULL region (2 people), and a cell
  of 9 people next to one of exactly 10 (the k boundary).

Ground truth is computed with plain DuckDB over the same rows.
"""

from __future__ import annotations

import bisect
import io
import math
import os
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shugu import db
from shugu.config import Settings
from shugu.runtime import Exchange
from tests.conftest import PG_URL, LiveServer, Orgs, db_url_normalise

K = 10
AGG, DP = "corpus-agg", "corpus-dp"
TABLE = "people"
V1, V2, NOBODY = "P0007", "P0401", "P9999"
V1_KWH, V1_VISITS = 9876543.21, 1000003
V2_KWH, V2_VISITS = 7654321.5, 2000007
KWH_UPPER, VISITS_UPPER = 2000, 100          # dp clamp bounds (lower 0 for both)
L = 1                                          # dp rows per identity
DP_EPS, DP_MAX_EPS = 1.0, 4.0
BUDGET = 1_000_000.0
# Laplace tails: margin at confidence c is b·ln(1/(1−c)); 1 − 1e-6 over 95 % is this ratio.
TAIL = math.log(1e6) / math.log(20)
RARE_DIMENSION_VALUES: tuple[Any, ...] = ("舟山", 1937, 1948)


def people() -> pa.Table:
    rng = random.Random(20261203)
    rows: list[dict[str, Any]] = []
    n = 0

    def person(region: str | None, sector: str, cohort: int, count: int) -> None:
        nonlocal n
        for _ in range(count):
            pid = f"P{n:04d}"
            n += 1
            for month in (1, 2, 3):
                kwh = round(rng.uniform(1000, 1999), 3)
                if kwh == int(kwh):
                    kwh += 0.125
                rows.append({"pid": pid, "region": region, "sector": sector,
                             "cohort": cohort, "month": month, "kwh": kwh,
                             "visits": rng.randint(1, 9) * 10, "note": f"病历-{pid}-{month}"})

    for region in ("杭州", "宁波", "温州"):
        for sector in ("制造", "服务"):
            for cohort in (2001, 2002):
                person(region, sector, cohort, 25)
    assert n == 300
    person("宁波", "服务", 2003, 10)          # exactly k: answered
    person("温州", "服务", 2003, 9)           # k − 1: left out
    person("舟山", "制造", 2001, 3)
    person("杭州", "制造", 1948, 2)
    n = 401
    person("杭州", "服务", 1937, 1)           # V2, alone in its cell
    n = 402
    person(None, "制造", 2001, 2)             # NULL region, 2 people
    for r in rows:
        if r["pid"] == V1 and r["month"] == 2:
            r["kwh"], r["visits"] = V1_KWH, V1_VISITS
        if r["pid"] == V2 and r["month"] == 1:
            r["kwh"], r["visits"] = V2_KWH, V2_VISITS
    v1 = next(r for r in rows if r["pid"] == V1)
    assert (v1["region"], v1["sector"], v1["cohort"]) == ("杭州", "制造", 2001)
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("pid", pa.string()), ("region", pa.string()), ("sector", pa.string()),
        ("cohort", pa.int32()), ("month", pa.int32()), ("kwh", pa.float64()),
        ("visits", pa.int64()), ("note", pa.string())]))


DIMENSIONS = ("region", "sector", "cohort", "month")


def big_cells(data: pa.Table) -> pa.Table:
    """The rows of cells (every dimension's value, NULL included) with ≥ k identities."""
    con = duckdb.connect()
    con.register("d", data)
    keys = ", ".join(DIMENSIONS)
    on = " AND ".join(f"d.{c} IS NOT DISTINCT FROM c.{c}" for c in DIMENSIONS)
    return con.sql(
        f"SELECT d.* FROM d JOIN (SELECT {keys} FROM d GROUP BY ALL "
        f"HAVING COUNT(DISTINCT pid) >= {K}) c ON {on}").to_arrow_table()


def forbidden_values(data: pa.Table) -> list[Any]:
    """Exact values of one identity or of a group of fewer than k identities: each row's
    kwh, each identity's and each small group's kwh total, mean, min and max, anything
    holding a victim's visits, every identity and note, and the rare dimension values.
    Counts and ordinary visits (small integers, multiples of 10) would collide with
    legitimate answers by chance: the decoy comparisons cover them."""
    con = duckdb.connect()
    con.register("d", data)
    out: list[Any] = list(RARE_DIMENSION_VALUES)
    groups = ["pid", "region, sector, cohort, month", "region, sector, cohort",
              "region, cohort", "region", "cohort", "region, sector", "sector, cohort"]
    for g in groups:
        for s, a, lo, hi, vs, va in con.execute(
                f"SELECT SUM(kwh), AVG(kwh), MIN(kwh), MAX(kwh), SUM(visits), AVG(visits) "
                f"FROM d GROUP BY {g} HAVING COUNT(DISTINCT pid) < {K}").fetchall():
            out.extend((s, a, lo, hi))
            out.extend(v for v in (vs, va) if v is not None and v >= V1_VISITS / 10)
    out.extend(data.column("kwh").to_pylist())
    out.extend((V1_VISITS, V2_VISITS))
    out.extend(data.column("pid").to_pylist())          # identities are never output
    out.extend(data.column("note").to_pylist())         # nor never_output columns
    return [v for v in out if isinstance(v, str) or (v is not None and abs(v) >= 100)]


# -- the exchange ------------------------------------------------------------------------------

@contextmanager
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of the corpus's own: the suite's per-test truncation of the
    shared test database must not wipe a world that lives for the whole module."""
    admin_url = make_url(db_url_normalise(PG_URL))
    name = f"shugu_corpus_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def rules(mode: str) -> dict[str, Any]:
    dim = {"role": "dimension"}
    body: dict[str, Any] = {
        "mode": mode, "min_identities": K,
        "columns": {
            "pid": {"role": "identity"}, "region": dim, "sector": dim, "cohort": dim,
            "month": dim,
            "kwh": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT"],
                    "lower": 0, "upper": KWH_UPPER},
            "visits": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT"],
                       "lower": 0, "upper": VISITS_UPPER},
            "note": {"role": "never_output"},
        },
    }
    if mode == "dp":
        body["joins"] = [{"with": "mine", "on": ["pid"]}]
        body["dp"] = {"epsilon_per_query": DP_EPS, "max_epsilon_per_query": DP_MAX_EPS,
                      "max_rows_per_identity": L, "delta": 1e-6}
        if os.environ.get("SHUGU_CORPUS_LEGACY"):   # only to try the harness on the old code
            body["dp"] = {"epsilon_per_query": DP_EPS}
    return body


def own_tables() -> dict[str, pa.Table]:
    """The consumer's own tables (mine.*), made to amplify or single out identities."""
    normal = [f"P{i:04d}" for i in range(300) if f"P{i:04d}" != V1]
    dup = ["P0003"] * 3000 + normal[10:70]
    return {
        # one ordinary identity 3000 times, 60 others once
        "dup": pa.table({"pid": dup, "w": [1] * len(dup)}),
        # a weight that singles V1 out
        "weights": pa.table({"pid": [V1, *normal],
                             "w": [1_000_000] + [0] * len(normal)}),
        # V1 alone, 500 times
        "only_v1": pa.table({"pid": [V1] * 500}),
        "only_nobody": pa.table({"pid": [NOBODY] * 500}),
        # everybody once, for conditions evaluated on every joined row
        "everyone": pa.table({"pid": [f"P{i:04d}" for i in range(404)]}),
        # V1 alone in its own segment
        "seg": pa.table({"pid": [V1, *normal], "segment": ["target"] + ["rest"] * len(normal)}),
    }


def parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@dataclass
class Corpus:
    backend: str
    server: LiveServer = field(repr=False)
    provider: httpx.Client = field(repr=False)
    consumer: httpx.Client = field(repr=False)
    orgs: Orgs = field(repr=False)
    data: pa.Table = field(repr=False)
    big: pa.Table = field(repr=False)
    forbidden: Forbidden = field(repr=False)
    entitlements: dict[str, int] = field(repr=False)
    mine: dict[str, pa.Table] = field(repr=False)
    truth: duckdb.DuckDBPyConnection = field(repr=False)      # over the big cells
    everything: duckdb.DuckDBPyConnection = field(repr=False)  # over every row
    consumer_org: int = 0

    def table(self, mode: str) -> str:
        return f'"{AGG if mode == "aggregate" else DP}".{TABLE}'

    def http(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.url + "/api/v1", timeout=120,
                            headers={"Authorization": f"Bearer {token}"})


def api(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    r = client.request(method, path, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text[:500])
    return r.json() if r.content else None


@contextmanager
def open_corpus(backend: str, tmp: Path) -> Iterator[Corpus]:
    with (pg_database() if backend == "postgresql" else _sqlite(tmp)) as url:
        ex = Exchange.open(Settings(data_dir=tmp / "data", database_url=url))
        server = LiveServer(ex).start()
        try:
            yield _populate(backend, ex, server)
        finally:
            server.stop()
            ex.close()


@contextmanager
def _sqlite(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp / 'shugu.db'}"


def _populate(backend: str, ex: Exchange, server: LiveServer) -> Corpus:
    from shugu.client import Client

    assert ex.first_start is not None
    operator = Client(server.url)
    operator.login(ex.first_start.username, ex.first_start.password)
    orgs = Orgs(operator, server.url)
    prov = orgs.new(["provider"], "浙江健康数据公司")
    cons = orgs.new(["consumer"], "攻击者银行")
    data = people()
    provider = httpx.Client(base_url=server.url + "/api/v1", timeout=120,
                            headers={"Authorization": f"Bearer {prov.token}"})
    consumer = httpx.Client(base_url=server.url + "/api/v1", timeout=120,
                            headers={"Authorization": f"Bearer {cons.token}"})
    ents: dict[str, int] = {}
    for slug, mode in ((AGG, "aggregate"), (DP, "dp")):
        prov.create_product(slug, "居民用电与就诊")
        prov.create_table(slug, TABLE)
        prov.ingest(slug, TABLE, parquet(data), format="parquet")
        api(provider, "PUT", f"/products/{slug}/tables/{TABLE}/analysis-rules", json=rules(mode))
        ents[slug] = prov.grant_entitlement(cons.org_id,  # type: ignore[attr-defined]
                                            slug, modes=["sandbox"]).id
    api(provider, "PUT", f"/entitlements/{ents[DP]}/privacy-budget", json={"epsilon": BUDGET})
    mine = own_tables()
    for name, t in mine.items():
        cons.upload_private_table(name, parquet(t), format="parquet")
    big = big_cells(data)
    truth, everything = (_truth_db(big, mine), _truth_db(data, mine))
    return Corpus(backend, server, provider, consumer, orgs, data, big,
                  Forbidden(forbidden_values(data)), ents, mine, truth, everything,
                  cons.org_id)  # type: ignore[attr-defined]


def _truth_db(rows: pa.Table, mine: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB with the product table (these rows) and the consumer's own tables under
    the names the sandbox uses."""
    con = duckdb.connect()
    con.register("product_rows", rows)
    con.execute(f'CREATE SCHEMA "{AGG}"')
    con.execute(f'CREATE VIEW "{AGG}".{TABLE} AS SELECT * FROM product_rows')
    con.execute("CREATE SCHEMA mine")
    for name, t in mine.items():
        con.register(f"mine_{name}", t)
        con.execute(f"CREATE VIEW mine.{name} AS SELECT * FROM mine_{name}")
    return con


# -- asking and recording ----------------------------------------------------------------------

@dataclass
class Outcome:
    sql: str
    status: int
    code: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    query: dict[str, Any] | None = None

    @property
    def answered(self) -> bool:
        return self.status == 201

    def kind(self) -> tuple[int, str | None]:
        return self.status, self.code

    def show(self) -> str:
        if self.answered:
            return f"201 columns={self.columns} rows={self.rows[:8]} dp={self.dp}"
        return f"{self.status} {self.code}: {self.message[:200]}"

    @property
    def dp(self) -> dict[str, Any] | None:
        return (self.query or {}).get("dp")


def ask(client: httpx.Client, sql: str, *, check_record: bool = True,
        **body: Any) -> Outcome:
    """POST a query; never a 5xx; a 4xx carries a code; the query is on record with a status
    that matches the answer (refused/failed for an error, succeeded for an answer)."""
    r = client.post("/sandbox/queries", json={"sql": sql, **body})
    assert r.status_code < 500, f"5xx for {sql[:300]!r}: {r.status_code} {r.text[:300]}"
    if r.status_code == 201:
        j = r.json()
        out = Outcome(sql, 201, columns=j["columns"], rows=j["rows"], query=j["query"])
        assert out.query is not None and out.query["status"] == "succeeded", out.query
        assert out.query.get("error_code") is None, out.query
        return out
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    err = r.json().get("error") or {}
    out = Outcome(sql, r.status_code, err.get("code"), str(err.get("message", "")),
                  err.get("details") or {})
    assert out.code, f"4xx without a code: {r.text[:300]}"
    if check_record and r.status_code not in (401, 404):
        qid = out.details.get("query_id")
        assert qid is not None, f"refusal {out.code} not recorded (no details.query_id)"
        rec = api(client, "GET", f"/sandbox/queries/{qid}")
        assert rec["status"] in ("refused", "failed"), rec
        assert rec["error_code"] == out.code, (rec["error_code"], out.code)
    return out


# -- deciding whether an answer escaped --------------------------------------------------------

def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | Decimal):
        return float(v)
    return None


def same_value(a: Any, b: Any) -> bool:
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


class Forbidden:
    """A fast membership test for forbidden values: numbers within 1e-9 relative, strings
    anywhere inside an answer's string."""

    def __init__(self, values: list[Any]) -> None:
        self.strings = sorted({v for v in values if isinstance(v, str)})
        self.numbers = sorted({float(v) for v in values if _num(v) is not None})

    def __contains__(self, value: Any) -> bool:
        x = _num(value)
        if x is None:
            return isinstance(value, str) and any(f in value for f in self.strings)
        if not math.isfinite(x):
            return False
        i = bisect.bisect_left(self.numbers, x - abs(x) * 1e-9 - 1e-6)
        return i < len(self.numbers) and same_value(self.numbers[i], x)


def is_forbidden(value: Any, forbidden: Forbidden) -> bool:
    return value in forbidden


def flat(v: Any) -> Iterator[Any]:
    """Scalars inside a value: a list's items, a map's keys and values (a histogram's keys
    are the measured values, as strings in JSON)."""
    if isinstance(v, dict):
        for k, w in v.items():
            yield from flat(k)
            yield from flat(w)
    elif isinstance(v, list | tuple):
        for w in v:
            yield from flat(w)
    else:
        yield v
        if isinstance(v, str) and _numeric(v):
            yield float(v)


def _numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def cells(out: Outcome) -> list[Any]:
    return [x for row in out.rows for v in row for x in flat(v)]


def numbers(out: Outcome) -> list[float]:
    return [x for v in cells(out) if (x := _num(v)) is not None]


def truth_rows(c: Corpus, sql: str, *, everything: bool = False,
               ) -> list[tuple[Any, ...]] | None:
    """DuckDB's own answer over the rows of cells with ≥ k identities (or over every row);
    None when DuckDB itself cannot run the SQL."""
    con = c.everything if everything else c.truth
    try:
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in r)
                for r in con.execute(sql).fetchall()]
    except duckdb.Error:
        return None


def rows_match(a: list[Any], b: tuple[Any, ...] | list[Any]) -> bool:
    return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))


def unmatched(rows: list[list[Any]], truth: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Answer rows that no row of the truth accounts for (each truth row used once)."""
    free = list(truth)
    left = []
    for row in rows:
        hit = next((i for i, t in enumerate(free) if rows_match(row, t)), None)
        if hit is None:
            left.append(row)
        else:
            free.pop(hit)
    return left


def check_aggregate(c: Corpus, out: Outcome, *, deterministic: bool = True) -> None:
    """An exact answer holds no value of one identity or of a group under k, hides nothing
    behind a suppression count, and is DuckDB's answer over the big cells."""
    assert out.query is not None
    bad = [v for v in cells(out) if is_forbidden(v, c.forbidden)]
    assert not bad, f"ESCAPE: {out.sql!r} answered {out.show()}; {bad} is the exact value " \
                    "of one identity or of a group under k"
    if deterministic:
        # Rows that the big cells do not account for but every row does: small cells leaked.
        # (Rows that neither accounts for mean the sandbox read the SQL differently, which
        # the legitimate-query tests judge; here only leaks count.)
        truth = truth_rows(c, out.sql)
        if truth is not None:
            extra = unmatched(out.rows, truth)
            leaked = [r for r in extra if not unmatched([r], truth_rows(
                c, out.sql, everything=True) or [])]
            assert not leaked, f"ESCAPE: {out.sql!r} answered rows {leaked} that DuckDB " \
                               f"gives over every row but not over the cells with >= {K} " \
                               f"identities ({truth[:8]})"
    assert out.query.get("suppressed", 0) == 0, f"suppression count oracle: {out.show()}"


def _outputs(out: Outcome) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in (out.dp or {}).get("outputs", [])}


def _sensitivity(o: dict[str, Any]) -> float | None:
    if o.get("kind") in ("count", "ids"):
        return float(L)
    if o.get("kind") == "sum" and o.get("lower") is not None and o.get("upper") is not None:
        return L * max(abs(float(o["lower"])), abs(float(o["upper"])))
    return None


def noisy_cells(out: Outcome) -> list[tuple[int, int, float, float, float]]:
    """(row, column, value, tolerance at 1 − 1e-6, one identity's largest effect) of each
    released count/sum."""
    outs = _outputs(out)
    cells = []
    for j, name in enumerate(out.columns):
        o = outs.get(name)
        if not o or o.get("margin_95") is None:
            continue
        delta = _sensitivity(o) or L * KWH_UPPER
        for i, row in enumerate(out.rows):
            v = _num(row[j])
            if v is not None:
                cells.append((i, j, v, float(o["margin_95"]) * TAIL + 1, delta))
    return cells


def check_dp(c: Corpus, out: Outcome) -> None:
    """A DP answer is noisy with an honest margin for one identity's largest effect, stays
    where contributions bounded per identity can put it, and releases no rare group key."""
    assert out.query is not None
    dp = out.dp
    assert dp is not None, f"ESCAPE: exact answer from a dp table: {out.sql!r} -> {out.show()}"
    assert out.query.get("suppressed", 0) == 0, f"suppression count in dp mode: {out.show()}"
    assert 0 < dp["epsilon"] <= DP_MAX_EPS + 1e-9, dp
    n_ids = len(set(c.data.column("pid").to_pylist()))
    outs = _outputs(out)
    for j, name in enumerate(out.columns):
        o = outs.get(name, {})
        for v in (x for row in out.rows for x in flat(row[j])):
            x = _num(v)
            if x is not None:
                for raw in (V1_KWH, V2_KWH, V1_VISITS, V2_VISITS):
                    assert not math.isclose(x, raw, rel_tol=1e-3), \
                        f"ESCAPE: {out.sql!r} -> {name}={v}, a victim's raw value"
            if o.get("margin_95") is None and o.get("kind") not in ("avg",):
                # group keys and anything released without noise
                assert not is_forbidden(v, c.forbidden), \
                    f"ESCAPE: {out.sql!r} released the key {v!r} of a group under k"
        m = o.get("margin_95")
        if m is None:
            continue
        eps = o.get("epsilon") or dp.get("epsilon_each") or dp["epsilon"]
        delta = _sensitivity(o)
        assert m > 0, f"zero margin: {out.show()}"
        if delta is not None:
            floor = 0.5 * math.log(20) * delta / float(eps)
            assert m >= floor, f"ESCAPE: stated margin {m} of {name} is below the noise one " \
                               f"identity (±{delta}) needs at ε={eps} ({floor}): {out.show()}"
    for _, j, v, tol, _ in noisy_cells(out):
        o = outs[out.columns[j]]
        upper = float(o.get("upper") or KWH_UPPER)
        hi = n_ids * (L if o.get("kind") in ("count", "ids") else L * upper)
        assert -tol <= v <= hi + tol, \
            f"ESCAPE: {out.sql!r} -> {out.columns[j]}={v}, outside what {n_ids} identities " \
            f"with at most {L} bounded row(s) each can give (0..{hi} ± {tol}): amplified"


RARE = Forbidden(list(RARE_DIMENSION_VALUES))


def check_error_echo(c: Corpus, out: Outcome) -> None:
    """Error messages say nothing about data the SQL did not already name."""
    if out.answered:
        return
    said = out.message + " " + str(out.details)
    for secret in ("病历-", str(V1_KWH), str(V2_KWH), str(V1_VISITS), "7654321"):
        if secret not in out.sql:
            assert secret not in said, f"error echoes data: {said[:300]}"


def check_sequence_aggregate(c: Corpus, outs: list[Outcome]) -> None:
    """No difference of two exact answers is the value of one identity or a group under k."""
    answered = [o for o in outs if o.answered]
    for i, a in enumerate(answered):
        for b in answered[i + 1:]:
            for x in numbers(a):
                for y in numbers(b):
                    d = abs(x - y)
                    assert not is_forbidden(d, c.forbidden), \
                        f"ESCAPE by differencing: {a.sql!r} -> {a.show()} and {b.sql!r} -> " \
                        f"{b.show()} differ by {d}, the exact value of one identity or of " \
                        "a group under k"


def _keyed(out: Outcome) -> dict[tuple[Any, ...], dict[int, tuple[float, float, float]]]:
    noisy = {(i, j): (v, tol, delta) for i, j, v, tol, delta in noisy_cells(out)}
    cols = {j for _, j in noisy}
    keys: dict[tuple[Any, ...], dict[int, tuple[float, float, float]]] = {}
    for i, row in enumerate(out.rows):
        key = tuple(v for j, v in enumerate(row) if j not in cols)
        keys[key] = {j: noisy[(i, j)] for j in cols if (i, j) in noisy}
    return keys


def check_sequence_dp(outs: list[Outcome], differ: int) -> None:
    """Two noisy answers to queries that differ by `differ` identities differ by no more than
    those identities' bounded contributions plus both answers' noise (at 1 − 1e-6): the pair
    cannot pin one identity's value more tightly than the stated margins allow."""
    answered = [o for o in outs if o.answered]
    for i, a in enumerate(answered):
        for b in answered[i + 1:]:
            ka, kb = _keyed(a), _keyed(b)
            for key in ka.keys() & kb.keys():
                for j in ka[key].keys() & kb[key].keys():
                    (x, tx, dx), (y, ty, _) = ka[key][j], kb[key][j]
                    limit = tx + ty + differ * dx
                    assert abs(x - y) <= limit, \
                        f"ESCAPE by differencing: {a.sql!r} -> {x} and {b.sql!r} -> {y} " \
                        f"differ by {abs(x - y)}, more than {differ} bounded identities " \
                        f"plus noise allow ({limit})"


def check_decoy(c: Corpus, mode: str, real: Outcome, decoy: Outcome) -> None:
    """The same query aimed at nobody: whether it answers, and what, must not depend on
    whether the target exists (exactly in aggregate mode, within noise in dp mode)."""
    assert real.kind() == decoy.kind(), \
        f"ESCAPE (oracle): {real.sql!r} -> {real.show()} but the decoy {decoy.sql!r} -> " \
        f"{decoy.show()}: success or failure tells whether the target exists"
    if not real.answered:
        return
    if mode == "aggregate":
        same = len(real.rows) == len(decoy.rows) and not unmatched(real.rows,
                                                                   [tuple(r) for r in
                                                                    decoy.rows])
        assert same, f"ESCAPE: {real.sql!r} -> {real.rows[:8]} but the decoy " \
                     f"{decoy.sql!r} -> {decoy.rows[:8]}: the answer tells the target apart"
    else:
        check_sequence_dp([real, decoy], 1)
