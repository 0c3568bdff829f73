"""The sandbox SQL editor over HTTP: tables and rules, a refused query with its code,
clause, column and rule, an answered one with the quota before and after, a differentially
private answer spending ε, a template with a parameter, the history; CSRF and strangers."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from shugu.client import Client
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, post_form, signed_in_web
from tests.portal.test_consumer_pages import SLUG, T_DP, T, build, page, refused

SANDBOX = f"/consumer/sandbox?product={SLUG}"


def run(web: httpx.Client, sql: str) -> tuple[int, str]:
    """Run sql through the form; the query id and the answer page it redirects to."""
    r = post_form(web, SANDBOX, "/consumer/sandbox/run", {"sql": sql, "product": SLUG})
    assert r.status_code == 303, r.text[:800]
    query = parse_qs(urlsplit(r.headers["location"]).query)
    return int(query["query"][0]), page(web, r.headers["location"])


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()


def test_sandbox_refusal_answer_budget_template_and_history(
        signup: Signup, operator: Client, server: LiveServer) -> None:
    m = build(signup, operator)
    m.consumer.api.request_offer(m.offer_id, "credit_risk")
    m.provider.api.create_template(
        SLUG, "by_industry", f"SELECT industry, COUNT(*) AS n FROM {T} "
        "WHERE region = :region GROUP BY industry", parameters={"region": "string"})
    web = signed_in_web(server, m.consumer)
    stranger = signup(["consumer"], "别家银行")
    other = signed_in_web(server, stranger)
    try:
        html = page(web, "/consumer/sandbox?lang=en")
        assert 'class="code"' in html and '<label for="cons-sb-sql">SQL<' in html
        assert "&#34;grid-usage&#34;.usage" in html and "&#34;grid-usage&#34;.usage_dp" in html
        assert "identity" in html and "never output" in html and "k = 5" in html
        assert text_of(html, "cons-sb-queries-left") == "10"
        assert text_of(html, "cons-sb-epsilon-left") == "5.0"

        # Refused: the identity column in the output. Code, clause, column, rule shown.
        qid, html = run(web, f"SELECT uscc, SUM(kwh) FROM {T} GROUP BY uscc")
        assert 'role="alert"' in html
        assert text_of(html, "cons-sb-refusal-code") == "identity_not_allowed"
        assert text_of(html, "cons-sb-refusal-column") == f"{SLUG}.usage.uscc"
        assert text_of(html, "cons-sb-refusal-rule")
        assert text_of(html, "cons-sb-queries-left") == "10"  # refusals use no quota
        assert m.consumer.api.sandbox_query_info(qid).error_code == "identity_not_allowed"

        # Answered: rows (舟山's 2 companies are in no cell of k = 5 and nothing says so),
        # quota 10 → 9.
        qid, html = run(web, f"SELECT region, COUNT(*) AS n, SUM(kwh) AS total FROM {T} "
                        "GROUP BY region ORDER BY region")
        assert 'id="cons-sb-ok"' in html and 'id="cons-sb-result"' in html
        assert "杭州" in html and "舟山" not in html.split('id="cons-sb-result"')[1]
        assert "suppressed" not in html
        assert text_of(html, "cons-sb-queries-before") == "10"
        assert text_of(html, "cons-sb-queries-left") == "9"
        assert m.consumer.api.sandbox_result(qid).rows[0][0] == "宁波"

        # A DP table: the answer spends ε 1.0 of 5, with margins.
        qid, html = run(web, f"SELECT region, COUNT(*) AS n FROM {T_DP} GROUP BY region")
        assert 'id="cons-sb-dp"' in html and "ε = 1.0" in html and "±" in html
        assert text_of(html, "cons-sb-epsilon-before") == "5.0"
        assert text_of(html, "cons-sb-epsilon-left") == "4.0"

        # A provider template with a parameter.
        html = page(web, SANDBOX)
        [tid] = re.findall(r'action="/consumer/sandbox/templates/(\d+)/run"', html)
        r = post_form(web, SANDBOX, f"/consumer/sandbox/templates/{tid}/run",
                      {"param_region": "杭州", "product": SLUG})
        assert r.status_code == 303
        html = page(web, r.headers["location"])
        assert 'id="cons-sb-ok"' in html and "制造" in html
        r = post_form(web, SANDBOX, f"/consumer/sandbox/templates/{tid}/run",
                      {"product": SLUG})
        refused(r, 400, "invalid_parameter")

        # History: every query, with links that fetch the answer again.
        html = page(web, "/consumer/sandbox")
        history = html.split('id="cons-sb-history"')[1]
        assert history.count("/consumer/sandbox?query=") == 4
        assert "identity_not_allowed" in history
        html = page(web, f"/consumer/sandbox?query={qid}")
        assert "ε = 1.0" in html

        # Bad input and forged forms change nothing.
        before = len(m.consumer.api.sandbox_queries().items)
        refused(post_form(web, SANDBOX, "/consumer/sandbox/run", {"sql": "", "product": SLUG}),
                422, "invalid_request")
        r = web.post("/consumer/sandbox/run", data={"sql": "SELECT 1", "product": SLUG})
        assert r.status_code == 403
        r = web.post("/consumer/sandbox/run",
                     data={"sql": "SELECT 1", "product": SLUG, "csrf_token": "x"})
        assert r.status_code == 403
        assert len(m.consumer.api.sandbox_queries().items) == before

        # Another organisation: no products, none of these queries, no rules.
        html = page(other, "/consumer/sandbox")
        assert "cons-sb-sql" not in html and "identity_not_allowed" not in html
        page(other, f"/consumer/sandbox?query={qid}", 404)
        page(other, SANDBOX, 404)
        r = post_form(other, "/consumer/sandbox", "/consumer/sandbox/run",
                      {"sql": f"SELECT COUNT(*) FROM {T}", "product": SLUG})
        assert r.status_code == 303
        html = page(other, r.headers["location"])
        assert text_of(html, "cons-sb-refusal-code") == "table_not_allowed"
        assert len(m.consumer.api.sandbox_queries().items) == before
        # The provider (no consumer role) has no sandbox page.
        provider_web = signed_in_web(server, m.provider)
        page(provider_web, "/consumer/sandbox", 404)
        provider_web.close()
    finally:
        web.close()
        other.close()
