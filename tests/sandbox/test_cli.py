"""`shugu sandbox ...` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shugu.cli import app
from tests.conftest import LiveServer
from tests.sandbox.conftest import RULES, SLUG, World

runner = CliRunner()


def shugu(server: LiveServer, token: str | None, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--url", server.url, "--json", "--token", token or "", *args])
    return result.exit_code, result.output


def test_sandbox_through_the_cli(server: LiveServer, world: World, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    code, out = shugu(server, world.provider.token, "sandbox", "rules", "set", SLUG, "usage",
                      str(rules))
    assert code == 0, out
    assert json.loads(out)["version"] == 2
    code, out = shugu(server, world.consumer.token, "sandbox", "query",
                      f'SELECT region, COUNT(*) AS n FROM "{SLUG}".usage GROUP BY region '
                      "ORDER BY region")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["columns"] == ["region", "n"] and len(answer["rows"]) == 4
    assert answer["query"]["suppressed"] == 0  # never told (an oracle)
    code, out = shugu(server, world.consumer.token, "sandbox", "result",
                      str(answer["query"]["id"]))
    assert code == 0 and json.loads(out)["rows"] == answer["rows"]
    code, out = shugu(server, world.consumer.token, "sandbox", "query",
                      f'SELECT uscc, COUNT(*) FROM "{SLUG}".usage GROUP BY uscc')
    assert code == 1 and "identity_not_allowed" in out
    code, out = shugu(server, world.consumer.token, "sandbox", "history")
    assert code == 0
    assert [q["status"] for q in json.loads(out)] == ["refused", "succeeded"]
    csv = tmp_path / "c.csv"
    csv.write_text("uscc,segment\n91330100MA0000001,对公\n", encoding="utf-8")
    code, out = shugu(server, world.consumer.token, "sandbox", "upload", "clients", str(csv))
    assert code == 0 and json.loads(out)["rows"] == 1
    code, out = shugu(server, world.consumer.token, "sandbox", "drop", "clients")
    assert code == 0, out
