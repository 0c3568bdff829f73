"""The `shugu` command against a real server on loopback: the provider's whole flow."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shugu.cli import app
from shugu.client import Client
from tests.conftest import LiveServer, new_uscc

runner = CliRunner()


def shugu(server: LiveServer, token: str | None, *args: str) -> tuple[int, str]:
    base = ["--url", server.url, "--json"] + (["--token", token] if token else [])
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_provider_flow_through_the_cli(server: LiveServer, operator: Client,
                                       tmp_path: Path) -> None:
    code, out = shugu(server, operator.token, "org", "create", "--uscc", new_uscc(),
                      "--name", "示范电网公司", "--roles", "provider", "--admin", "cli_grid")
    assert code == 0, out
    # With --json only the organisation is printed; get a token by logging in instead.
    created = json.loads(out)
    assert created["roles"] == ["provider"]
    org = operator.get_organization(created["id"])
    password = "correct horse battery"
    operator.create_user(org.id, "cli_grid2", password=password, is_admin=True)
    code, out = shugu(server, None, "login", "cli_grid2", "--password", password)
    assert code == 0, out
    token = json.loads(out)["key_id"]
    assert token
    secret = Client(server.url).login("cli_grid2", password).secret

    code, out = shugu(server, secret, "product", "create", "power-use", "--title-zh",
                      "企业月度用电量", "--title-en", "Monthly power use", "--tag", "电力",
                      "--tag", "energy", "--update-frequency", "monthly")
    assert code == 0, out
    assert json.loads(out)["slug"] == "power-use"
    code, out = shugu(server, secret, "table", "create", "power-use", "monthly")
    assert code == 0, out
    csv = tmp_path / "use.csv"
    csv.write_text("district,kwh\n西湖区,100\n滨江区,200\n", encoding="gbk")
    code, out = shugu(server, secret, "ingest", "power-use", "monthly", str(csv))
    assert code == 0, out
    ingested = json.loads(out)
    assert ingested["rows"] == 2 and ingested["version"] == 0
    code, out = shugu(server, secret, "revision", "publish", "power-use", "r1", "--note", "首发")
    assert code == 0, out
    assert json.loads(out)["table_versions"] == {"monthly": 0}
    code, out = shugu(server, secret, "revision", "list", "power-use")
    assert code == 0 and len(json.loads(out)) == 1
    code, out = shugu(server, secret, "search", "用电")
    assert code == 0 and json.loads(out) == []  # a draft is not in the catalog yet
    code, out = shugu(server, secret, "listing", "submit", "power-use")
    assert code == 0, out
    submitted = json.loads(out)
    assert submitted["status"] == "in_review" and submitted["risk_grade"] == "low"
    code, out = shugu(server, operator.token, "listing", "queue")
    assert code == 0 and [i["id"] for i in json.loads(out)] == [submitted["id"]]
    code, out = shugu(server, operator.token, "listing", "approve", str(submitted["id"]),
                      "--provider-bp", "9200", "--platform-bp", "800")
    assert code == 0, out
    assert json.loads(out)["split"]["provider_bp"] == 9200
    code, out = shugu(server, secret, "search", "用电")
    assert code == 0, out
    assert [h["slug"] for h in json.loads(out)] == ["power-use"]
    code, out = shugu(server, secret, "listing", "show", "power-use")
    assert code == 0 and json.loads(out)["status"] == "listed"
    code, out = shugu(server, secret, "revision", "revoke", "power-use", "1", "--reason", "错误")
    assert code == 0 and json.loads(out)["status"] == "revoked"
    code, out = shugu(server, secret, "listing", "delist", "power-use", "--reason", "更新")
    assert code == 0 and json.loads(out)["product_status"] == "delisted"
    code, out = shugu(server, operator.token, "listing", "reject", str(submitted["id"]),
                      "--reason", "x")
    assert code == 1 and "[listing_not_in_review]" in out


def test_listing_show_in_human_form_and_offline_scan(server: LiveServer, provider: Client,
                                                     tmp_path: Path) -> None:
    provider.create_product("people", "联系人")
    provider.create_table("people", "contacts")
    provider.ingest("people", "contacts", "姓名,手机\n张三,13812345678\n".encode(),
                    format="csv")
    provider.submit_listing("people")
    result = runner.invoke(app, ["--url", server.url, "--token", provider.token or "",
                                 "listing", "show", "people"])
    assert result.exit_code == 0, result.output
    assert "in_review" in result.output and "138****5678" in result.output
    assert "13812345678" not in result.output
    csv = tmp_path / "people.csv"
    csv.write_text("姓名,手机\n张三,13812345678\n李四,13987654321\n", encoding="utf-8")
    result = runner.invoke(app, ["--json", "scan", str(csv)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["risk_grade"] == "medium"
    assert report["tables"]["people.csv"]["columns"]["手机"]["detections"]["mobile"][
        "matches"] == 2
    result = runner.invoke(app, ["scan", str(tmp_path / "missing.parquet")])
    assert result.exit_code == 1 and "source_not_found" in result.output


def test_cli_errors_are_one_line_and_exit_1(server: LiveServer, operator: Client) -> None:
    code, out = shugu(server, operator.token, "org", "create", "--uscc", "91330100716105852A",
                      "--name", "x", "--roles", "provider", "--admin", "x_admin")
    assert code == 1
    assert "[invalid_uscc]" in out
    code, out = shugu(server, "shg_bad_token", "product", "list")
    assert code == 1 and "token_invalid" in out


def test_cli_reports_an_unreachable_server() -> None:
    result = runner.invoke(app, ["--url", "http://127.0.0.1:9", "product", "list"])
    assert result.exit_code == 1
    assert "cannot reach shugu" in result.output


def test_tokens_through_the_cli(server: LiveServer, operator: Client) -> None:
    code, out = shugu(server, operator.token, "token", "create", "ci", "--days", "7")
    assert code == 0, out
    token_id = json.loads(out)["id"]
    code, out = shugu(server, operator.token, "token", "revoke", str(token_id))
    assert code == 0 and json.loads(out)["revoked_at"]
    code, out = shugu(server, operator.token, "token", "list")
    assert code == 0 and token_id in [t["id"] for t in json.loads(out)]


def test_entitlements_and_profile_through_the_cli(server: LiveServer, provider: Client,
                                                  consumer: Client, tmp_path: Path) -> None:
    provider.create_product("power-use", "企业月度用电量")
    cid = str(consumer.org_id)  # type: ignore[attr-defined]
    code, out = shugu(server, provider.token, "entitlement", "grant", "--consumer", cid,
                      "--product", "power-use", "--until", "2099-01-01", "--quota-queries", "5")
    assert code == 0, out
    granted = json.loads(out)
    assert granted["quotas"]["queries"] == 5 and granted["valid_until"].startswith("2099-01-01")
    code, out = shugu(server, consumer.token, "entitlement", "list")
    assert code == 0 and [e["id"] for e in json.loads(out)] == [granted["id"]]
    profile_path = tmp_path / "shugu.share"
    code, out = shugu(server, consumer.token, "sharing", "profile", str(profile_path))
    assert code == 0, out
    profile = json.loads(profile_path.read_text())
    assert profile["shareCredentialsVersion"] == 1 and profile["bearerToken"].startswith("shg_")
    assert profile_path.stat().st_mode & 0o077 == 0
    code, out = shugu(server, provider.token, "entitlement", "revoke", str(granted["id"]),
                      "--reason", "到期")
    assert code == 0 and json.loads(out)["live"] is False
