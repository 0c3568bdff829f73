"""Every command `shugu demo` prints, run as printed against the demo it describes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from shugu.client import Client
from tests.conftest import free_port
from tests.docs.shell import Shell, base_env, wait_ready

SHELL_WORDS = ("curl ", "shugu ", "python ")


def printed_commands(output: str) -> list[str]:
    """The indented lines of the demo's output that are shell commands."""
    return [line.strip() for line in output.splitlines()
            if line.startswith("  ") and line.strip().startswith(SHELL_WORDS)]


def test_every_printed_command_works(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path, port)
    work = tmp_path / "work"
    work.mkdir()
    log = tmp_path / "demo.log"
    demo = subprocess.Popen([sys.executable, "-m", "shugu.cli", "demo", "--data-dir",
                             str(tmp_path / "demo"), "--rows", "5000"], cwd=work, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    shell = Shell(cwd=work, env=env, port=port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", demo, seconds=600)
        output = log.read_text()
        assert f"shugu demo is ready at http://127.0.0.1:{port}" in output
        found = printed_commands(output)
        assert len(found) >= 10, output
        assert any("%" in c or "--data-urlencode" in c for c in found if c.startswith("curl"))
        results = [shell.run(command) for command in found]
        by_command = dict(zip(found, results, strict=True))

        search = [out for cmd, out in by_command.items() if cmd.startswith("curl")]
        answer, _ = json.JSONDecoder().raw_decode(search[0])  # curl's progress follows
        assert answer["items"][0]["slug"] == "zj-enterprise-power-monthly"
        verified = next(out for cmd, out in by_command.items() if "voucher verify" in cmd)
        assert "voucher verified" in verified
        bank = re.search(r"consumer \(bank\).*\n\s+(shg_\S+)", output)
        assert bank is not None
        with Client(f"http://127.0.0.1:{port}", bank.group(1)) as c:
            invoices = c.invoices().items
            # The subscription's first year (the per-query plan has no queries yet).
            assert [(i.status, i.total_fen) for i in invoices] == [("settled", 12_000_000)]
        rows = next(out for cmd, out in by_command.items() if "load_as_pandas" in cmd)
        assert "electricity_kwh" in rows and "上城区" in rows
    finally:
        shell.close()
        demo.terminate()
        demo.wait(timeout=60)
