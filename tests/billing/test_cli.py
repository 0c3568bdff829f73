"""`shugu billing|invoice|settlement|voucher` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shugu.cli import app
from shugu.db import utcnow
from tests.billing.conftest import Market

runner = CliRunner()


def shugu(market: Market, token: str | None, *args: str, as_json: bool = True
          ) -> tuple[int, str]:
    base = ["--url", market.server.url] + (["--json"] if as_json else []) + \
        (["--token", token] if token else [])
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_operator_bills_settles_and_consumer_verifies(market: Market, tmp_path: Path) -> None:
    market.agree("one_time", 4_200)
    op, buyer = market.operator.token, market.consumer.token
    code, out = shugu(market, op, "billing", "run", "--until", utcnow().isoformat())
    assert code == 0, out
    [invoice] = json.loads(out)
    assert invoice["total_yuan"] == "42.00"
    code, out = shugu(market, buyer, "invoice", "list")
    assert code == 0 and json.loads(out)[0]["number"] == invoice["number"]
    code, out = shugu(market, op, "settlement", "create")
    assert code == 0, out
    voucher = json.loads(out)["vouchers"][0]

    bundle = tmp_path / "voucher.json"
    code, out = shugu(market, buyer, "voucher", "evidence", voucher, "-o", str(bundle))
    assert code == 0, out
    key = market.consumer.public_key().public_key
    code, out = shugu(market, None, "voucher", "verify", str(bundle), "--public-key", key,
                      as_json=False)
    assert code == 0, out
    assert "voucher verified" in out
    data = json.loads(bundle.read_text())
    data["voucher"]["invoice"]["total_fen"] = 1
    bundle.write_text(json.dumps(data))
    code, out = shugu(market, None, "voucher", "verify", str(bundle), "--public-key", key,
                      as_json=False)
    assert code == 1 and "NOT verified" in out
    for nonsense in ("nonsense", "bm9uc2Vuc2U="):  # the key is blamed, not the signature
        code, out = shugu(market, None, "voucher", "verify", str(bundle), "--public-key",
                          nonsense, as_json=False)
        assert code == 2 and "public key" in out and "signature" not in out, out
    bundle.write_text("not json")
    code, _ = shugu(market, None, "voucher", "verify", str(bundle))
    assert code == 2

    costs = tmp_path / "costs.csv"
    code, out = shugu(market, buyer, "billing", "costs", "-o", str(costs))
    assert code == 0, out
    assert "42.00" in costs.read_text(encoding="utf-8")
    # A refusal is one clear line and exit code 1.
    code, out = shugu(market, buyer, "billing", "run", as_json=False)
    assert code == 1 and "operator_required" in out
