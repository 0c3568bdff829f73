"""Out-of-range numbers, NUL characters, non-finite numbers, deep nesting and oversized
bodies: refused with a stable 4xx on both databases, the server alive and earlier data
intact. The OpenAPI walk at the top keeps the class closed: a new endpoint taking an
integer without a range, or a text without a maximum length, fails it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shugu.api.limits import INT32_MAX, INT64_MAX
from shugu.app import create_app
from shugu.client import Client
from shugu.config import Settings
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs, list_product

# Inputs deliberately without a declared range or length, and why.
UNBOUNDED = {
    # The lead is redesigning the sandbox's bodies (src/shugu/sandbox/schemas.py); the
    # request guard still bounds them (64-bit integers, finite numbers, body size).
    "RulesIn", "TemplateIn", "TemplateRunIn", "shugu__sandbox__schemas__ReviewIn", "DecisionIn",
    # The protocol: a hint the server cannot read turns filtering off; it is never refused
    # (sharing/predicates.py ignores hints beyond its size and depth limits).
    "shugu__sharing__routes__QueryIn.jsonPredicateHints",
}


def _walk(doc: dict[str, Any], schema: dict[str, Any], where: str,
          seen: frozenset[str]) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name not in UNBOUNDED:
            yield from _walk(doc, doc["components"]["schemas"][name], f"{where}->{name}",
                             seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _walk(doc, sub, where, seen)
    kind = schema.get("type")
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None or high is None or high > INT64_MAX or low < -INT64_MAX:
            yield f"{where}: integer without a range that fits BIGINT"
    if kind == "number" and not ({"maximum", "exclusiveMaximum"} & schema.keys()
                                 and {"minimum", "exclusiveMinimum"} & schema.keys()):
        yield f"{where}: number without a range"
    if kind == "string" and "maxLength" not in schema and not (
            {"enum", "const", "pattern"} & schema.keys()
            or schema.get("format") in ("date-time", "date", "binary")):
        yield f"{where}: text without a maximum length"
    for name, sub in (schema.get("properties") or {}).items():
        if f"{where.rsplit('->', 1)[-1]}.{name}" not in UNBOUNDED:
            yield from _walk(doc, sub, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk(doc, schema[key], f"{where}[]", seen)


def test_every_input_is_bounded_in_the_openapi(tmp_path: Any) -> None:
    exchange = Exchange.open(Settings(data_dir=tmp_path / "d",
                                      database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        doc = create_app(exchange).openapi()
    finally:
        exchange.close()
    problems: list[str] = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            label = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                if p["in"] in ("path", "header") and p["schema"].get("type") != "integer":
                    continue  # bounded by the request line; an unknown name is a 404
                problems += _walk(doc, p["schema"], f"{label} {p['in']}:{p['name']}",
                                  frozenset())
            for content in (op.get("requestBody") or {}).get("content", {}).values():
                problems += _walk(doc, content.get("schema", {}), f"{label} body", frozenset())
            # Every operation declares the error answers it can give, with their shape.
            for status in ("400", "401", "403", "404", "409", "413"):
                if status not in op["responses"]:
                    problems.append(f"{label}: {status} not declared")
    assert not problems, "\n".join(problems)


# -- live: refused with a stable code, nothing written, the server alive ---------------------

def _code(r: httpx.Response) -> str:
    body = r.json()
    return str(body["error"]["code"] if "error" in body else body.get("shuguCode"))


@pytest.fixture
def api(server: LiveServer, orgs: Orgs) -> Iterator[tuple[httpx.Client, Client]]:
    provider = orgs.new(["provider", "consumer"])
    provider.create_product("power-use", "企业月度用电量")
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {provider.token}"}) as http:
        yield http, provider


BIG = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("value", BIG)
def test_out_of_range_ids_and_parameters(api: tuple[httpx.Client, Client], value: int) -> None:
    http, _ = api
    for path in (f"/api/v1/agreements/{value}", f"/api/v1/offers/{value}",
                 f"/api/v1/organizations/{value}", f"/api/v1/registrations/{value}",
                 f"/api/v1/products/power-use/revisions/{value}",
                 f"/api/v1/ledger/events/{value * 2**40}",
                 f"/api/v1/products?provider_org_id={value}", f"/api/v1/products?limit={value}",
                 f"/api/v1/ledger/consistency?first={value * 2**40}"):
        r = http.get(path)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert _code(r) == "invalid_request"
    r = http.get(f"/delta-sharing/shares?maxResults={value}")
    assert r.status_code in (200, 400), r.text  # int32 fits and is clamped; more is 400
    r = http.get(f"/delta-sharing/shares/power-use/schemas/default/tables/t/changes"
                 f"?startingVersion={value * 2**40}")
    assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_PARAMETER_VALUE"


def test_out_of_range_body_numbers(api: tuple[httpx.Client, Client]) -> None:
    http, provider = api
    org = provider.me().organization.id
    grant = {"consumer_org_id": org, "product": "power-use", "modes": ["share"]}
    for body, code in [
        ({**grant, "quotas": {"queries": 10**30}}, "value_out_of_range"),
        ({**grant, "quotas": {"queries": 2**63}}, "value_out_of_range"),
        ({**grant, "consumer_org_id": 2**31}, "invalid_request"),
        ({**grant, "quotas": {"rows": -1}}, "invalid_request"),
    ]:
        r = http.post("/api/v1/entitlements", json=body)
        assert (r.status_code, _code(r)) == (422, code), r.text
    r = http.post("/api/v1/certificates/X/pledges",
                  json={"pledgee_org_id": org, "amount_fen": 10**30,
                        "term_end": "2030-01-01T00:00:00Z"})
    assert r.status_code == 422
    r = http.post("/api/v1/certificates/X/pledges",
                  json={"pledgee_org_id": org, "amount_fen": 10**15,
                        "term_end": "2030-01-01T00:00:00Z"})
    assert (r.status_code, _code(r)) == (422, "invalid_request")
    # At the edge: accepted by the schema (and then refused or not on its merits).
    r = http.post("/api/v1/entitlements", json={**grant, "quotas": {"bytes": INT64_MAX}})
    assert r.status_code < 500
    r = http.get(f"/api/v1/agreements/{INT32_MAX}")
    assert (r.status_code, _code(r)) == (404, "agreement_not_found")


@pytest.mark.parametrize("raw", [b'{"title_zh": NaN}', b'{"title_zh": Infinity}',
                                 b'{"title_zh": -Infinity}', b'{"sample_rows": 1e400}',
                                 b'{"sample_rows": -1e400}'])
def test_non_finite_numbers(api: tuple[httpx.Client, Client], raw: bytes) -> None:
    http, _ = api
    r = http.patch("/api/v1/products/power-use", content=raw,
                   headers={"Content-Type": "application/json"})
    assert (r.status_code, _code(r)) == (422, "non_finite_number"), r.text


def test_nul_characters(api: tuple[httpx.Client, Client]) -> None:
    http, provider = api
    for body in ({"title_zh": "用电\x00"}, {"tags": ["a\x00b"]}, {"description_zh": "\x00"},
                 {"\x00": 1}):
        r = http.patch("/api/v1/products/power-use", json=body)
        assert (r.status_code, _code(r)) == (422, "invalid_characters"), r.text
    r = http.post("/api/v1/products", json={"slug": "other", "title_zh": "a\u0000"})
    assert (r.status_code, _code(r)) == (422, "invalid_characters")
    for path in ("/api/v1/search?q=%00", "/api/v1/search?q=%E7%94%A8%00",
                 "/api/v1/products/power%00use", "/api/v1/ledger/events?action=a%00"):
        r = http.get(path)
        assert (r.status_code, _code(r)) == (422, "invalid_characters"), path
    r = http.get("/delta-sharing/shares/power-use%00")
    assert r.status_code == 400 and r.json()["shuguCode"] == "invalid_characters"
    assert provider.get_product("power-use").title_zh == "企业月度用电量"


def test_nesting_and_sizes(api: tuple[httpx.Client, Client]) -> None:
    http, provider = api
    deep = b"[" * 100_000 + b"]" * 100_000
    for raw in (b'{"tags": ' + deep + b"}", b'{"x": ' + b'{"a": ' * 70 + b"1" + b"}" * 71):
        r = http.patch("/api/v1/products/power-use", content=raw,
                       headers={"Content-Type": "application/json"})
        assert (r.status_code, _code(r)) == (422, "nesting_too_deep"), r.text[:200]
    # A body over SHUGU_MAX_JSON_BYTES (4 MiB), declared or streamed without a length.
    big = json.dumps({"description_zh": "数" * 2_000_000}).encode()
    r = http.patch("/api/v1/products/power-use", content=big,
                   headers={"Content-Type": "application/json"})
    assert (r.status_code, _code(r)) == (413, "body_too_large")
    r = http.patch("/api/v1/products/power-use", content=iter([big[:1000], big[1000:]]),
                   headers={"Content-Type": "application/json"})
    assert (r.status_code, _code(r)) == (413, "body_too_large")
    r = http.post("/api/v1/tokens", content=b"x" * 5_000_000,
                  headers={"Content-Type": "text/plain"})
    assert (r.status_code, _code(r)) == (413, "body_too_large")
    # Under the body limit but over the field's: 422 naming the field.
    for field, n in (("description_zh", 10_001), ("title_zh", 301), ("scenario", 20_001),
                     ("data_source", 20_001)):
        r = http.patch("/api/v1/products/power-use", json={field: "x" * n})
        assert (r.status_code, _code(r)) == (422, "invalid_request"), field
        assert field in r.json()["error"]["message"]
    r = http.patch("/api/v1/products/power-use", json={"tags": ["t" * 201]})
    assert r.status_code == 422
    r = http.post("/api/v1/auth/login", json={"username": "u", "password": "p" * 1_000_001})
    assert r.status_code == 422
    # Uploads keep their own limit: a 5 MB CSV is no JSON body.
    provider.create_table("power-use", "big")
    csv = b"k,v\n" + b"".join(b"%d,%s\n" % (i, b"v" * 80) for i in range(55_000))
    assert len(csv) > 4 * 1024**2
    r = http.put("/api/v1/products/power-use/tables/big/data?format=csv", content=csv,
                 headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == 55_000
    assert provider.get_product("power-use").description_zh is None


def test_json_limit_is_a_setting(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=f"sqlite:///{tmp_path / 'x.db'}",
                        max_json_bytes=2048)
    exchange = Exchange.open(settings)
    live = LiveServer(exchange).start()
    try:
        r = httpx.post(f"{live.url}/api/v1/auth/login",
                       json={"username": "u" * 100, "password": "p" * 3000}, timeout=60)
        assert (r.status_code, _code(r)) == (413, "body_too_large")
        assert "2048" in r.json()["error"]["message"]
        r = httpx.post(f"{live.url}/api/v1/auth/login", json={"username": "u", "password": "p"},
                       timeout=60)
        assert r.status_code == 401
    finally:
        live.stop()
        exchange.close()


def test_unreadable_predicate_hints_turn_filtering_off(api: tuple[httpx.Client, Client],
                                                       orgs: Orgs, operator: Client) -> None:
    _, provider = api
    provider.create_table("power-use", "use")
    provider.ingest("power-use", "use", b"region,kwh\n1,2\n3,4\n", format="csv")
    list_product(provider, operator, "power-use", data=None)
    consumer = orgs.new(["consumer"])
    provider.grant_entitlement(consumer.org_id, "power-use")  # type: ignore[attr-defined]
    http = httpx.Client(base_url=provider.base_url, timeout=60,
                        headers={"Authorization": f"Bearer {consumer.token}"})
    share = "/delta-sharing/shares/power-use/schemas/default/tables/use/query"
    leaf = '{"op":"column","name":"region","valueType":"int"}'
    hints = [
        '{"op":"not","children":[' * 100_000 + leaf + "]}" * 100_000,  # deeper than JSON
        '{"op":"not","children":[' * 200 + leaf + "]}" * 200,  # readable JSON, too deep
        '{"op":"and","children":[' + ",".join([leaf] * 5000) + "]}",  # too many nodes
        '{"op":"equal","children":[' + leaf
        + ',{"op":"literal","value":"1e400","valueType":"int"}]}',
        '{"op":"equal","children":[' + leaf
        + ',{"op":"literal","value":"' + "9" * 5000 + '","valueType":"int"}]}',
    ]
    for hint in hints:
        r = http.post(share, json={"jsonPredicateHints": hint})
        assert r.status_code == 200, r.text[:300]
        assert sum('"file"' in line or '"add"' in line for line in r.text.splitlines()) == 1
    r = http.post(share, json={"limitHint": 2**63})
    assert r.status_code == 400 and r.json()["shuguCode"] == "value_out_of_range"
    r = http.post(share, json={"version": 2**31})
    assert r.status_code == 400  # no such version (or out of range): never a 500


def test_database_refusals_are_422_not_500(server: LiveServer, exchange: Exchange) -> None:
    """The last line: a value that reaches the database out of its range (here through a
    portal address, which has no declared range) is refused, never a 500."""
    import re

    assert exchange.first_start is not None
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as web:
        page = web.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        r = web.post("/login", data={"csrf_token": csrf.group(1), "next": "/",
                                     "username": exchange.first_start.username,
                                     "password": exchange.first_start.password})
        assert r.status_code == 303
        for value in (2**31, 2**63, 10**30):
            r = web.get(f"/operator/registrations/{value}")
            assert r.status_code in (404, 422), (value, r.status_code)
        assert web.get("/operator/registrations/1").status_code == 404
