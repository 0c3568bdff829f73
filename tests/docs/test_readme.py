"""The README's Quickstart, run command by command exactly as written (tests/docs/shell.py
says what the runner changes: the port, `pip install .`), then the DuckDB recipe of
docs/sharing.md in the same directory against the same server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shugu.client import Client
from tests.conftest import free_port
from tests.docs.shell import ROOT, Shell, base_env, commands, fenced, section


def quickstart() -> list[str]:
    [block] = fenced(section((ROOT / "README.md").read_text("utf-8"), "Quickstart"), "sh")
    return commands(block)


def test_the_quickstart_is_one_complete_trade() -> None:
    """What the Quickstart must cover, so that a shortened one fails here."""
    text = "\n".join(quickstart())
    for needed in ("shugu serve", "--print-token", "--roles consumer", "registration submit",
                   "registration review", "registration issue", "cert download",
                   "cert verify", "SHUGU_PUBLIC_NOTICE_SECONDS=", "examples/rules.json",
                   "billing run", "settlement create", "voucher evidence $VOUCHER",
                   "voucher verify"):
        assert needed in text, needed
    assert "shg_" not in text  # no token to copy by hand: every one comes from a command


def test_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    port = free_port()
    shell = Shell(cwd=work, env=base_env(tmp_path, port), port=port)
    try:
        for command in quickstart():
            if command.startswith("pip install "):
                continue  # the test runs in an installed environment
            output = shell.run(command)
            if " serve " in command:
                found = re.search(r"password: (\S+)", output)
                assert found, output
                shell.stdin = found.group(1) + "\n"  # what the reader types at the prompt
        ran = dict(shell.transcript)
        url = f"http://127.0.0.1:{port}"

        # What the walk-through promised happened.
        search = next(out for cmd, out in ran.items() if "search 用电" in cmd)
        assert "power-use" in search
        cert = json.loads((work / "cert.json").read_text("utf-8"))
        number = cert["certificate"]["number"]
        with Client(url) as anonymous:
            assert anonymous.certificate_status(number).status == "valid"
            assert anonymous.public_notices().items == []  # the 5-second notice is over
        voucher = shell.env["VOUCHER"]
        bundle = json.loads((work / "voucher.json").read_text("utf-8"))
        assert voucher in json.dumps(bundle, ensure_ascii=False)
        with Client(url, shell.env["BANK_TOKEN"]) as bank:
            assert [v.number for v in bank.vouchers().items] == [voucher]
            [invoice] = bank.invoices().items
            assert invoice.total_fen > 0 and invoice.status == "settled"
        sandbox = next(out for cmd, out in ran.items() if "sandbox query" in cmd)
        assert all(region in sandbox for region in ("西湖区", "上城区", "滨江区", "余杭区"))
        assert (work / "costs.csv").read_text("utf-8").count("\n") >= 2

        # docs/sharing.md: DuckDB over the share, with no extension to download.
        [recipe] = fenced(section((ROOT / "docs" / "sharing.md").read_text("utf-8"),
                                  "DuckDB"), "python")
        (work / "duckdb_recipe.py").write_text(recipe, "utf-8")
        output = shell.run("python duckdb_recipe.py")
        assert all(region in output for region in ("西湖区", "上城区", "滨江区", "余杭区"))
    finally:
        shell.close()
