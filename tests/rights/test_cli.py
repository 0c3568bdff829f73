"""`shugu registration`, `shugu cert` and `shugu pledge` against a real server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from shugu.cli import app
from shugu.client import Client
from shugu.db import utcnow
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.rights.conftest import end_notice

runner = CliRunner()


def shugu(server: LiveServer, client: Client, *args: str) -> tuple[int, str]:
    base = ["--url", server.url, "--json", "--token", client.token or ""]
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def ok(server: LiveServer, client: Client, *args: str) -> dict[str, object]:
    code, out = shugu(server, client, *args)
    assert code == 0, out
    loaded: dict[str, object] = json.loads(out)
    return loaded


def test_registration_certificate_and_pledge_through_the_cli(
        server: LiveServer, operator: Client, provider: Client, orgs: Orgs, product: str,
        exchange: Exchange, tmp_path: Path) -> None:
    fp = ok(server, provider, "registration", "fingerprint", product, "1")
    assert fp["root"] == provider.fingerprint(product, 1).root
    reg = ok(server, provider, "registration", "create", "--product", product, "--revision",
             "1", "--right", "holding", "--right", "operation", "--source-kind",
             "self_collected", "--source", "电表采集", "--algorithm", "按月汇总",
             "--scenario", "信贷风控", "--update-period", "monthly")
    reg_id = str(reg["id"])
    proof = tmp_path / "proof.txt"
    proof.write_text("采集协议", encoding="utf-8")
    doc = ok(server, provider, "registration", "upload", reg_id, str(proof))
    assert doc["filename"] == "proof.txt" and doc["size"] == len("采集协议".encode())
    assert ok(server, provider, "registration", "submit", reg_id)["status"] == "formal_review"
    code, out = shugu(server, provider, "registration", "review", reg_id, "approve")
    assert code == 1 and "operator_required" in out
    ok(server, operator, "registration", "review", reg_id, "approve")
    assert ok(server, operator, "registration", "review", reg_id, "approve", "--note",
              "通过")["status"] == "public_notice"
    rival = orgs.new(["provider"])
    objection = ok(server, rival, "registration", "object", reg_id, "--reason", "存疑")
    ok(server, operator, "registration", "resolve", str(objection["id"]), "dismissed")
    end_notice(exchange, int(reg_id))
    issued = ok(server, operator, "registration", "issue", reg_id)
    number = str(issued["issued_certificate"])
    # The certificate: show, download and verify offline, HTML.
    assert ok(server, rival, "cert", "show", number)["status"] == "valid"
    plain = runner.invoke(app, ["--url", server.url, "--token", rival.token or "", "cert",
                                "show", number])
    assert plain.exit_code == 0 and f"number: {number}" in plain.output
    cert_file = tmp_path / "cert.json"
    code, out = shugu(server, provider, "cert", "download", number, "-o", str(cert_file))
    assert code == 0, out
    verified = runner.invoke(app, ["cert", "verify", str(cert_file), "--url", server.url])
    assert verified.exit_code == 0, verified.output
    page = tmp_path / "cert.html"
    code, out = shugu(server, provider, "cert", "html", number, "-o", str(page))
    assert code == 0 and number in page.read_text("utf-8")
    # Pledge, public status, release.
    bank = orgs.new(["consumer"])
    until = (utcnow() + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S")
    pledge = ok(server, provider, "pledge", "create", number, "--pledgee",
                str(bank.org_id), "--amount-fen", "1000000", "--until", until)  # type: ignore
    status = ok(server, rival, "cert", "status", number)
    assert status["status"] == "pledged"
    code, out = shugu(server, rival, "pledge", "show", str(pledge["id"]))
    assert code == 1 and "pledge_not_found" in out
    assert ok(server, bank, "pledge", "release", str(pledge["id"]))["status"] == "released"
    assert ok(server, rival, "cert", "status", number)["status"] == "valid"
