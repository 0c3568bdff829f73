"""The consumer's own data in the sandbox and what it does with answers: upload (raw body
with X-CSRF-Token, as the page's script sends it), list and delete own tables, a join with
mine.<name>; the CSV download of a kept answer; reviewed custom queries on a
"templates only" table. CSRF, bad input and other organisations on every new endpoint."""

from __future__ import annotations

import copy
import csv
import io

import httpx
import pyarrow as pa
import pytest

from shugu.client import Client
from shugu.portal import consumer_sandbox
from tests.conftest import LiveServer
from tests.portal.conftest import Member, Signup, csrf_of, post_form, signed_in_web
from tests.portal.test_consumer_pages import SLUG, T, build, page, refused, usage_under_dp
from tests.portal.test_consumer_sandbox import SANDBOX, run, text_of
from tests.sandbox.conftest import RULES, parquet_bytes

CUSTOMERS = pa.table({
    "uscc": [f"91330100MA{c:07d}" for c in range(0, 152, 2)],
    "segment": ["对公" if c % 4 == 0 else "小微" for c in range(0, 152, 2)]})
JOIN = ("SELECT c.segment, COUNT(DISTINCT u.uscc) AS companies, SUM(u.kwh) AS total "
        f"FROM mine.customers c JOIN {T} u ON c.uscc = u.uscc GROUP BY c.segment ORDER BY 1")


def upload(web: httpx.Client, name: str, body: bytes, token: str | None = "page",
           fmt: str = "auto") -> httpx.Response:
    """What consumer.js sends: the file as the raw body, the page's token in a header."""
    headers = {"Content-Type": "application/octet-stream"}
    if token == "page":
        token = csrf_of(page(web, "/consumer/sandbox"))
    if token is not None:
        headers["X-CSRF-Token"] = token
    return web.post(f"/consumer/sandbox/tables?name={name}&format={fmt}", content=body,
                    headers=headers)


def names(member: Member) -> list[str]:
    return [t.name for t in member.api.private_tables()]


def test_own_tables_join_and_csv(signup: Signup, operator: Client, server: LiveServer,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    m = build(signup, operator)
    m.consumer.api.request_offer(m.offer_id, "credit_risk")
    web = signed_in_web(server, m.consumer)
    stranger = signup(["consumer"], "别家银行")
    other = signed_in_web(server, stranger)
    provider_web = signed_in_web(server, m.provider)
    try:
        html = page(web, f"{SANDBOX}&lang=en")
        assert "No provider ever sees these tables" in html
        assert text_of(html, "cons-sb-mine-none")
        joins = html.split('id="cons-sb-mine-joins">')[1].split("</p>")[0]
        assert "&#34;grid-usage&#34;.usage</code> on <code>uscc" in joins
        assert "usage_dp" not in joins  # the DP table allows no join
        assert "<noscript>" in html and "shugu sandbox upload NAME FILE" in html
        assert 'data-cons-upload id="cons-sb-upload"' in html and "<progress" in html
        assert "我的数据表" in page(web, "/consumer/sandbox?lang=zh")

        # Upload as the script does; the API lists it, the page shows rows and size.
        r = upload(web, "customers", parquet_bytes(CUSTOMERS))
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "customers" and r.json()["rows"] == 76
        assert names(m.consumer) == ["customers"]
        html = page(web, SANDBOX)
        mine = html.split('id="cons-sb-mine"')[1].split("</table>")[0]
        assert "mine.customers" in mine and "segment" in mine and ">76<" in mine
        assert " KB<" in mine or " B<" in mine

        # Refused uploads change nothing: CSRF missing or wrong, bad name, format, file.
        data = parquet_bytes(CUSTOMERS)
        assert upload(web, "second", data, token=None).status_code == 403
        assert upload(web, "second", data, token="forged").json()["error"]["code"] == \
            "csrf_failed"
        for name, body, fmt, status, code in [
                ("Bad-Name", data, "auto", 400, "invalid_name"),
                ("second", data, "xlsx", 400, "invalid_format"),
                ("second", b"PAR1 not parquet", "auto", 400, "corrupt_file"),
                ("second", b"", "auto", 400, "empty_file"),
                ("customers", data, "auto", 409, "duplicate_table")]:
            r = upload(web, name, body, fmt=fmt)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert names(m.consumer) == ["customers"]

        # Exact (restricted aggregation) answers never join an own table; under entity-level
        # DP the join is answered, exactly as the API answers it.
        _, html = run(web, JOIN)
        assert "join_not_allowed" in html
        usage_under_dp(m)
        qid, html = run(web, JOIN)
        assert 'id="cons-sb-ok"' in html, html[:3000]
        api = m.consumer.api.sandbox_result(qid)
        assert {r[0] for r in api.rows} == {"小微", "对公"}

        # CSV download: the API's rows, UTF-8 with BOM, as an attachment.
        assert f'href="/consumer/sandbox/queries/{qid}.csv"' in html
        assert 'id="cons-sb-download"' in html and "first 500" not in html
        r = web.get(f"/consumer/sandbox/queries/{qid}.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert f'filename="query-{qid}.csv"' in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        got = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert got[0] == api.columns
        assert got[1:] == [[str(v) for v in row] for row in api.rows]
        # The page shows the first rows and points to the download for the rest.
        monkeypatch.setattr(consumer_sandbox, "SHOWN_ROWS", 1)
        html = page(web, f"/consumer/sandbox?query={qid}&lang=en")
        assert "2 rows in all; the page shows the first 500." in html
        assert html.split('id="cons-sb-result"')[1].split("</table>")[0].count("<tr>") == 2
        monkeypatch.undo()
        # A refusal has no result to download; a non-number is no page.
        bad, _ = run(web, f"SELECT uscc FROM {T}")
        refused(web.get(f"/consumer/sandbox/queries/{bad}.csv"), 422, "no_result")
        page(web, "/consumer/sandbox/queries/x.csv", 404)

        # Other organisations: not listed, no download, no deletion, no upload pages.
        html = page(other, "/consumer/sandbox")
        assert "mine.customers" not in html and text_of(html, "cons-sb-mine-none")
        page(other, f"/consumer/sandbox/queries/{qid}.csv", 404)
        r = post_form(other, "/consumer/sandbox", "/consumer/sandbox/tables/customers/delete",
                      {})
        assert r.status_code == 404
        page(provider_web, f"/consumer/sandbox/queries/{qid}.csv", 404)
        r = upload(provider_web, "customers", data, token=csrf_of(page(provider_web,
                                                                       "/provider")))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = provider_web.post("/consumer/sandbox/tables/customers/delete",
                              data={"csrf_token": csrf_of(page(provider_web, "/provider"))})
        assert r.status_code == 404
        assert names(m.consumer) == ["customers"] and names(stranger) == []

        # Delete: CSRF first (403, still there), then the form; a name not held is 404.
        assert web.post("/consumer/sandbox/tables/customers/delete").status_code == 403
        assert names(m.consumer) == ["customers"]
        r = post_form(web, SANDBOX, "/consumer/sandbox/tables/customers/delete", {})
        assert r.status_code == 303 and "done=cons_table_deleted" in r.headers["location"]
        assert names(m.consumer) == []
        for action in ("sandbox.private_table_uploaded", "sandbox.private_table_deleted"):
            [event] = m.consumer.api.events(action=action).items
            assert event.payload["name"] == "customers"
        assert "The table is deleted" in page(web, r.headers["location"] + "&lang=en")
        r = post_form(web, SANDBOX, "/consumer/sandbox/tables/customers/delete", {})
        assert r.status_code == 404
        # The deleted table is gone from queries too.
        qid, html = run(web, JOIN)
        assert text_of(html, "cons-sb-refusal-code") == "table_not_allowed"
    finally:
        web.close()
        other.close()
        provider_web.close()


def test_reviewed_query(signup: Signup, operator: Client, server: LiveServer) -> None:
    m = build(signup, operator)
    m.consumer.api.request_offer(m.offer_id, "credit_risk")
    rules = copy.deepcopy(RULES)
    rules["mode"] = "templates"
    m.provider.api.set_analysis_rules(SLUG, "usage", rules)
    web = signed_in_web(server, m.consumer)
    stranger = signup(["consumer"], "别家银行")
    other = signed_in_web(server, stranger)
    sql = f"SELECT region, COUNT(*) AS n FROM {T} GROUP BY region ORDER BY region"
    try:
        # Refused because the table takes templates only: the page offers a review.
        qid, html = run(web, sql)
        assert text_of(html, "cons-sb-refusal-code") == "templates_only"
        assert 'id="cons-sb-review-form"' in html
        where = f"/consumer/sandbox?query={qid}"
        # A refusal a review cannot lift offers none.
        _, html = run(web, f"SELECT uscc FROM {T}")
        assert 'id="cons-sb-review-form"' not in html

        # Bad input and forged forms change nothing.
        refused(post_form(web, where, "/consumer/sandbox/reviews",
                          {"product": SLUG, "sql": ""}), 422, "invalid_request")
        assert web.post("/consumer/sandbox/reviews",
                        data={"product": SLUG, "sql": sql}).status_code == 403
        assert m.consumer.api.reviews() == []

        r = post_form(web, where, "/consumer/sandbox/reviews",
                      {"product": SLUG, "sql": sql, "note": "按地区统计"})
        assert r.status_code == 303 and "done=cons_review_submitted" in r.headers["location"]
        [review] = m.consumer.api.reviews()
        assert (review.status, review.sql, review.note) == ("pending", sql, "按地区统计")
        html = page(web, "/consumer/sandbox?lang=en")
        row = html.split(f'id="cons-sb-review-{review.id}"')[1].split("</tr>")[0]
        assert "pending" in row and "Run (once)" not in row
        # Not approved yet: 409.
        refused(post_form(web, SANDBOX, f"/consumer/sandbox/reviews/{review.id}/run",
                          {"product": SLUG}), 409, "review_not_approved")

        m.provider.api.decide_review(review.id, True, note="同意")
        html = page(web, "/consumer/sandbox?lang=en")
        row = html.split(f'id="cons-sb-review-{review.id}"')[1].split("</tr>")[0]
        assert "approved" in row and "同意" in row and "Run (once)" in row
        # Someone else cannot run it; a missing token changes nothing.
        r = post_form(other, "/consumer/sandbox", f"/consumer/sandbox/reviews/{review.id}/run",
                      {"product": SLUG})
        assert r.status_code == 404
        assert "按地区统计" not in page(other, "/consumer/sandbox")
        assert web.post(f"/consumer/sandbox/reviews/{review.id}/run",
                        data={"product": SLUG}).status_code == 403
        assert m.consumer.api.reviews()[0].status == "approved"

        # Run once: answered; the approval is spent.
        r = post_form(web, SANDBOX, f"/consumer/sandbox/reviews/{review.id}/run",
                      {"product": SLUG})
        assert r.status_code == 303, r.text[:800]
        html = page(web, r.headers["location"])
        assert 'id="cons-sb-ok"' in html and "杭州" in html
        assert text_of(html, "cons-sb-queries-before") == "10"
        assert m.consumer.api.reviews()[0].status == "used"
        refused(post_form(web, SANDBOX, f"/consumer/sandbox/reviews/{review.id}/run",
                          {"product": SLUG}), 409, "review_not_approved")
        assert post_form(web, SANDBOX, "/consumer/sandbox/reviews/x/run",
                         {"product": SLUG}).status_code == 404
        # The provider organisation (no consumer role) has none of these pages.
        provider_web = signed_in_web(server, m.provider)
        token = csrf_of(page(provider_web, "/provider"))
        for path in ("/consumer/sandbox/reviews", f"/consumer/sandbox/reviews/{review.id}/run"):
            r = provider_web.post(path, data={"csrf_token": token, "product": SLUG, "sql": sql})
            assert r.status_code == 404, path
        provider_web.close()
    finally:
        web.close()
        other.close()
