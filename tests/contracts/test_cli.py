"""`shugu offer|negotiation|agreement` against a real server: a manual offer negotiated
with counter-offers to an agreement, prices in exact yuan."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shugu.cli import app
from shugu.client import Client
from tests.conftest import LiveServer
from tests.contracts.conftest import SLUG, make_policy, purpose

runner = CliRunner()


def shugu(server: LiveServer, who: Client, *args: str, as_json: bool = True) -> tuple[int, str]:
    base = ["--url", server.url, "--token", str(who.token)] + (["--json"] if as_json else [])
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_negotiation_through_the_cli(server: LiveServer, provider: Client, consumer: Client,
                                     product: str, tmp_path: Path) -> None:
    code, out = shugu(server, provider, "offer", "create", SLUG, "--title", "年度订阅",
                      "--plan", "subscription", "--period", "year", "--price", "12000.005")
    assert code == 1 and "sub_fen_amount" in out
    code, out = shugu(server, provider, "offer", "create", SLUG, "--title", "年度订阅",
                      "--plan", "subscription", "--period", "year", "--price", "12000.50",
                      "--approval", "manual", "--mode", "share", "--mode", "sandbox",
                      "--purpose", "credit_risk", "--quota", "queries=1000",
                      "--valid-for", "P6M", "--delete-after")
    assert code == 0, out
    offer = json.loads(out)
    assert offer["price_fen"] == 1200050 and offer["price_yuan"] == "12000.50"
    constraints = offer["policy"]["permission"][0]["constraint"]
    assert {c["leftOperand"] for c in constraints} == {"deliveryMode", "purpose", "count",
                                                      "elapsedTime"}
    code, out = shugu(server, consumer, "offer", "list", SLUG)
    assert code == 0 and [o["id"] for o in json.loads(out)] == [offer["id"]]
    code, out = shugu(server, consumer, "offer", "evaluate", str(offer["id"]), "--purpose",
                      "marketing_analysis", as_json=False)
    assert code == 0 and "denied" in out and "purpose_not_allowed" in out
    code, out = shugu(server, consumer, "negotiation", "request", str(offer["id"]),
                      "--purpose", "credit_risk", "--purpose-text", "授信审批",
                      "--price-fen", "1000000")
    assert code == 0, out
    nid = json.loads(out)["id"]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(make_policy(purpose("credit_risk"), duty=True)))
    code, out = shugu(server, provider, "negotiation", "offer", str(nid), "--price", "11000",
                      "--policy", str(policy), "--note", "可以优惠")
    assert code == 0, out
    assert json.loads(out)["state"] == "OFFERED"
    code, out = shugu(server, consumer, "negotiation", "request", "--negotiation", str(nid),
                      "--price", "10500")
    assert code == 0 and json.loads(out)["terms"]["price_fen"] == 1050000
    code, out = shugu(server, consumer, "negotiation", "accept", str(nid))
    assert code == 1 and "illegal_transition" in out
    for who, message in [(provider, "agree"), (consumer, "verify"), (provider, "finalize")]:
        code, out = shugu(server, who, "negotiation", message, str(nid))
        assert code == 0, out
    done = json.loads(out)
    assert done["state"] == "FINALIZED"
    code, out = shugu(server, consumer, "negotiation", "show", str(nid), as_json=False)
    assert code == 0 and "finalize" in out
    code, out = shugu(server, provider, "negotiation", "list", "--as-provider")
    assert code == 0 and json.loads(out)[0]["state"] == "FINALIZED"
    aid = str(done["agreement_id"])
    code, out = shugu(server, consumer, "agreement", "show", aid)
    assert code == 0 and json.loads(out)["price_fen"] == 1050000
    code, out = shugu(server, consumer, "agreement", "confirm-deletion", aid)
    assert code == 1 and "deletion_not_due" in out
    code, out = shugu(server, provider, "agreement", "terminate", aid, "--reason", "到期前终止")
    assert code == 0 and json.loads(out)["status"] == "terminated"
    code, out = shugu(server, consumer, "agreement", "confirm-deletion", aid)
    assert code == 0 and json.loads(out)["deletion_duty"] == "fulfilled"
    code, out = shugu(server, consumer, "agreement", "list")
    assert code == 0 and json.loads(out)[0]["number"].startswith("SG-AGR-")
    code, out = shugu(server, provider, "offer", "withdraw", str(offer["id"]))
    assert code == 0 and json.loads(out)["status"] == "withdrawn"
    code, out = shugu(server, provider, "offer", "show", str(offer["id"]))
    assert code == 0 and json.loads(out)["status"] == "withdrawn"
