"""Provider pages through a real server: dashboard, new product, tables, the upload endpoint,
revisions, registrations and the listing submission. Each page: the right role in zh and en,
changes through the service (checked with the SDK), stable error codes, CSRF, and nothing
for another organisation."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx
import pytest

from shugu.client import Client
from shugu.config import Settings
from shugu.portal.i18n import MESSAGES
from tests.conftest import LiveServer
from tests.portal.conftest import Member, Signup, csrf_of, post_form, signed_in_web

CSV = b"uscc,region,kwh\n" + b"".join(
    f"9133010{i:011d},{'east' if i % 2 else 'west'},{100 + i}\n".encode() for i in range(40))
ZH, EN = MESSAGES["zh"], MESSAGES["en"]
LIMIT = 256 * 1024  # this module's exchange refuses larger uploads


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """A small upload limit, and a public notice that ends at once (to issue certificates)."""
    return Settings(data_dir=tmp_path / "data", database_url=db_url, max_upload_bytes=LIMIT,
                    public_notice_seconds=0)


def make_product(member: Member, slug: str = "power-use", data: bytes | None = CSV) -> None:
    member.api.create_product(slug, "企业月度用电量", title_en="Monthly power use")
    member.api.create_table(slug, "usage")
    if data is not None:
        member.api.ingest(slug, "usage", data, format="csv")


def upload(web: httpx.Client, slug: str, table: str, body: bytes, token: str | None,
           **params: str) -> httpx.Response:
    headers = {"Content-Type": "text/csv"}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return web.post(f"/provider/products/{slug}/tables/{table}/data", content=body,
                    params={"format": "csv", "filename": "u.csv", **params}, headers=headers)


def test_dashboard_and_new_product(signup: Signup, server: LiveServer) -> None:
    grid = signup(["provider"], "浙江电网公司")
    bank = signup(["consumer"], "杭州银行")
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, bank)) as other:
        home = web.get("/provider")
        assert home.status_code == 200 and ZH["prov.home"] in home.text
        assert ZH["prov.no_products"] in home.text
        assert EN["prov.home"] in web.get("/provider", params={"lang": "en"}).text
        assert other.get("/provider").status_code == 404
        assert other.get("/provider/products/new").status_code == 404
        assert other.get("/provider/usage").status_code == 404

        form = {"slug": "power-use", "title_zh": "企业月度用电量", "title_en": "Power use",
                "update_frequency": "monthly", "category": "能源", "tags": "电力，月度, 企业",
                "data_source": "抄表数据", "scenario": "绿色信贷"}
        # Without the CSRF token: 403, nothing created.
        web.get("/provider/products/new")
        refused = web.post("/provider/products", data=form)
        assert refused.status_code == 403
        assert other.post("/provider/products",
                          data={"csrf_token": "x", **form}).status_code == 404
        created = post_form(web, "/provider/products/new", "/provider/products", form)
        assert created.status_code == 303
        assert created.headers["location"] == "/provider/products/power-use?done=prov_created"
        product = grid.api.get_product("power-use")
        assert product.tags == ["电力", "月度", "企业"] and product.update_frequency == "monthly"
        assert product.status == "draft" and product.title_en == "Power use"

        page = web.get(created.headers["location"] + "&lang=zh")
        assert ZH["done.prov_created"] in page.text and 'id="tab-offers"' in page.text
        assert "power-use" in web.get("/provider").text

        # Bad input: the error page with the domain's stable code, never a 500.
        bad = post_form(web, "/provider/products/new", "/provider/products",
                        {**form, "slug": "X"})
        assert bad.status_code == 422 and "invalid_request" in bad.text
        again = post_form(web, "/provider/products/new", "/provider/products", form)
        assert again.status_code == 409 and "duplicate_slug" in again.text
        freq = post_form(web, "/provider/products/new", "/provider/products",
                         {**form, "slug": "other-one", "update_frequency": "sometimes"})
        assert freq.status_code == 422


def test_tables_and_the_upload_endpoint(signup: Signup, server: LiveServer) -> None:
    grid = signup(["provider"], "浙江电网公司")
    rival = signup(["provider", "consumer"], "另一家数据公司")
    grid.api.create_product("power-use", "企业月度用电量")
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other:
        page = web.get("/provider/products/power-use")
        assert page.status_code == 200 and ZH["product.no_tables"] in page.text
        added = post_form(web, "/provider/products/power-use",
                          "/provider/products/power-use/tables",
                          {"name": "usage", "description": "月度用电"})
        assert added.status_code == 303 and "prov_table_added" in added.headers["location"]
        assert [t.name for t in grid.api.get_product("power-use").tables] == ["usage"]
        bad = post_form(web, "/provider/products/power-use",
                        "/provider/products/power-use/tables", {"name": "Usage-1"})
        assert bad.status_code == 422 and "invalid_request" in bad.text
        dup = post_form(web, "/provider/products/power-use",
                        "/provider/products/power-use/tables", {"name": "usage"})
        assert dup.status_code == 409 and "duplicate_table" in dup.text

        page = web.get("/provider/products/power-use")
        token = csrf_of(page.text)
        assert 'id="upload-progress-usage"' in page.text and "data-upload" in page.text
        assert "/static/provider.js" in page.text
        assert web.get("/static/provider.js").status_code == 200

        # The CSRF header is required: 403 JSON and no new version.
        assert upload(web, "power-use", "usage", CSV, None).status_code == 403
        assert upload(web, "power-use", "usage", CSV, "forged").status_code == 403
        assert grid.api.get_product("power-use").tables[0].current_version is None

        done = upload(web, "power-use", "usage", CSV, token)
        assert done.status_code == 201, done.text
        assert done.json()["version"] == 0 and done.json()["rows"] == 40
        table = grid.api.get_product("power-use").tables[0]
        assert table.current_version == 0 and table.row_count == 40
        second = upload(web, "power-use", "usage", CSV, token, mode="overwrite")
        assert second.json()["version"] == 1
        assert grid.api.get_product("power-use").tables[0].row_count == 40

        wrong = upload(web, "power-use", "usage", CSV, token, format="xlsx")
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_format"
        empty = upload(web, "power-use", "usage", b"", token)
        assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_file"
        missing = upload(web, "power-use", "nope", CSV, token)
        assert missing.status_code == 404
        big = CSV + CSV[16:] * (2 * LIMIT // len(CSV))
        too_large = upload(web, "power-use", "usage", big, token)
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "upload_too_large"

        # Another organisation: its own valid token, still nothing.
        other_token = csrf_of(other.get("/").text)
        assert upload(other, "power-use", "usage", CSV, other_token).status_code == 404
        assert grid.api.get_product("power-use").tables[0].current_version == 1
        for tab in ("", "/revisions", "/registrations", "/listing", "/offers", "/rules"):
            assert other.get(f"/provider/products/power-use{tab}").status_code == 404, tab
        assert other.post("/provider/products/power-use/tables",
                          data={"csrf_token": other_token, "name": "x"}).status_code == 404
        en = web.get("/provider/products/power-use", params={"lang": "en"}).text
        assert EN["prov.upload"] in en and EN["prov.tab.rules"] in en


def test_revisions_registrations_and_listing(signup: Signup, server: LiveServer,
                                             operator: Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    rival = signup(["provider"], "另一家数据公司")
    make_product(grid)
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other:
        base = "/provider/products/power-use"
        page = web.get(f"{base}/revisions")
        assert page.status_code == 200 and ZH["prov.no_revisions"] in page.text
        published = post_form(web, f"{base}/revisions", f"{base}/revisions",
                              {"name": "2026-11", "note": "十一月", "table_usage": "1"})
        assert published.status_code == 303
        assert [r.name for r in grid.api.list_revisions("power-use")] == ["2026-11"]
        dup = post_form(web, f"{base}/revisions", f"{base}/revisions", {"name": "2026-11"})
        assert dup.status_code == 409 and "duplicate_revision" in dup.text
        fingerprinted = post_form(web, f"{base}/revisions", f"{base}/revisions/1/fingerprint",
                                  {})
        assert fingerprinted.status_code == 303
        root = grid.api.fingerprint("power-use", 1).root
        assert root[:16] in web.get(f"{base}/revisions").text
        no_reason = post_form(web, f"{base}/revisions", f"{base}/revisions/1/revoke", {})
        assert no_reason.status_code == 400 and "reason_required" in no_reason.text

        regs = web.get(f"{base}/registrations")
        assert regs.status_code == 200 and 'id="registration-form"' in regs.text
        draft = post_form(web, f"{base}/registrations", f"{base}/registrations", {
            "revision": "1", "data_name": "企业月度用电量", "right_holding": "1",
            "right_operation": "1", "source_kind": "self_collected",
            "source_description": "自有抄表系统", "algorithm_rules": "按月汇总",
            "scenario": "绿色信贷", "update_period": "monthly"})
        assert draft.status_code == 303
        reg = grid.api.registrations().items[0]
        assert reg.status == "draft" and [r.code for r in reg.rights] == ["holding",
                                                                          "operation"]
        # Submitting without proof documents: the domain's refusal, as a page.
        incomplete = post_form(web, f"{base}/registrations",
                               f"{base}/registrations/{reg.id}/submit", {})
        assert incomplete.status_code == 409 and "incomplete_application" in incomplete.text
        token = csrf_of(web.get(f"{base}/registrations").text)
        doc_url = f"{base}/registrations/{reg.id}/documents"
        assert web.post(doc_url, content=b"proof", params={"filename": "p.pdf"},
                        headers={"X-CSRF-Token": "forged"}).status_code == 403
        stored = web.post(doc_url, content=b"%PDF proof", params={"filename": "p.pdf"},
                          headers={"X-CSRF-Token": token, "Content-Type": "application/pdf"})
        assert stored.status_code == 201 and stored.json()["filename"] == "p.pdf"
        other_token = csrf_of(other.get("/provider").text)
        assert other.post(doc_url, content=b"x", params={"filename": "x"},
                          headers={"X-CSRF-Token": other_token}).status_code == 404
        assert other.post(f"{base}/registrations/{reg.id}/submit",
                          data={"csrf_token": other_token}).status_code == 404
        submitted = post_form(web, f"{base}/registrations",
                              f"{base}/registrations/{reg.id}/submit", {})
        assert submitted.status_code == 303
        assert grid.api.registration(reg.id).status == "formal_review"
        assert "p.pdf" in web.get(f"{base}/registrations").text
        assert web.get("/provider/certificates/SG-NO-SUCH").status_code == 404
        # The operator reviews twice, the (zero-length) notice ends, the certificate is
        # issued: the page links to it.
        operator.review_registration(reg.id, "approve")
        operator.review_registration(reg.id, "approve")
        number = operator.issue_registration(reg.id).issued_certificate
        regs = web.get(f"{base}/registrations").text
        assert f'href="/provider/certificates/{number}"' in regs
        assert ZH["prov.st.issued"] in regs
        cert = web.get(f"/provider/certificates/{number}")
        assert cert.status_code == 200 and number in cert.text

        # Listing: submit (scan + quality report), the operator approves, then delist.
        listing = web.get(f"{base}/listing")
        assert ZH["quality.none"] in listing.text and 'id="submit-listing"' in listing.text
        web.get(f"{base}/listing")
        assert web.post(f"{base}/listing", data={"csrf_token": "x"}).status_code == 403
        assert grid.api.get_product("power-use").status == "draft"
        sent = post_form(web, f"{base}/listing", f"{base}/listing", {})
        assert sent.status_code == 303
        assert grid.api.get_product("power-use").status == "in_review"
        shown = web.get(f"{base}/listing")
        assert ZH["prov.waiting_review"] in shown.text and 'id="risk-grade"' in shown.text
        assert ZH["prov.dim.completeness"] in shown.text
        twice = web.post(f"{base}/listing", data={"csrf_token": csrf_of(shown.text)})
        assert twice.status_code == 409 and "listing_in_review" in twice.text
        operator.approve_listing(grid.api.get_listing("power-use").id)
        assert 'id="delist-form"' in web.get(f"{base}/listing").text
        assert other.get(f"{base}/listing").status_code == 404  # listed, still not theirs
        # The sample setting: saved through the catalog service, checked, theirs only.
        saved = post_form(web, f"{base}/listing", f"{base}/sample", {"sample_rows": "3"})
        assert saved.status_code == 303 and grid.api.get_product("power-use").sample_rows == 3
        too_many = post_form(web, f"{base}/listing", f"{base}/sample", {"sample_rows": "99"})
        assert too_many.status_code == 422 and "sample_rows" in too_many.text
        assert other.post(f"{base}/sample", data={"csrf_token": csrf_of(
            other.get("/").text), "sample_rows": "0"}).status_code == 404
        assert grid.api.get_product("power-use").sample_rows == 3
        delisted = post_form(web, f"{base}/listing", f"{base}/delist", {"reason": "数据更新"})
        assert delisted.status_code == 303
        assert grid.api.get_product("power-use").status == "delisted"
        assert 'id="submit-listing"' in web.get(f"{base}/listing", params={"lang": "en"}).text
