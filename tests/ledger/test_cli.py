"""`shugu ledger export` and `shugu ledger verify`, through Typer and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from shugu.cli import app
from shugu.ledger import tree_heads
from shugu.ledger.models import LedgerEvent, TreeHead
from shugu.runtime import Exchange
from tests.ledger.conftest import rewrite_consistently

runner = CliRunner()


def db_args(ex: Exchange) -> list[str]:
    return ["--data-dir", str(ex.settings.resolved_data_dir()),
            "--database-url", ex.settings.resolved_database_url()]


def test_verify_and_export_intact(ledger_ex: Exchange, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ledger", "verify", *db_args(ledger_ex)])
    assert result.exit_code == 0, result.output
    assert "ledger intact" in result.output and "12 events" in result.output
    out = tmp_path / "ledger.jsonl"
    result = runner.invoke(app, ["ledger", "export", *db_args(ledger_ex), str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 12 events and 3 signed tree heads" in result.output
    result = runner.invoke(app, ["ledger", "verify", str(out)])
    assert result.exit_code == 0, result.output
    assert "ledger intact" in result.output


def test_verify_names_the_first_altered_event(ledger_ex: Exchange, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    with ledger_ex.transaction() as s:
        s.execute(update(LedgerEvent).where(LedgerEvent.seq == 5).values(subject="x"))
    for args in (db_args(ledger_ex), [str(out)]):
        if args == [str(out)]:
            assert runner.invoke(app, ["ledger", "export", "--full", *db_args(ledger_ex),
                                       str(out)]).exit_code == 0
        result = runner.invoke(app, ["ledger", "verify", *args])
        assert result.exit_code == 1, result.output
        assert "first problem at event 5" in result.output
        assert "commitment_mismatch" in result.output
    # The public form holds no subject to alter: it verifies, and discloses nothing.
    public = tmp_path / "public.jsonl"
    assert runner.invoke(app, ["ledger", "export", *db_args(ledger_ex),
                               str(public)]).exit_code == 0
    assert runner.invoke(app, ["ledger", "verify", str(public)]).exit_code == 0


def test_verify_names_the_range_between_signed_heads(ledger_ex: Exchange) -> None:
    with ledger_ex.transaction() as s:
        s.execute(update(LedgerEvent).where(LedgerEvent.seq == 6).values(payload="{}"))
    rewrite_consistently(ledger_ex)
    result = runner.invoke(app, ["ledger", "verify", *db_args(ledger_ex)])
    assert result.exit_code == 1, result.output
    assert "sth_root_mismatch" in result.output and "[4, 8)" in result.output


def test_cannot_verify_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ledger", "verify", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2
    result = runner.invoke(app, ["ledger", "verify", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2


def test_real_process_with_settings_from_the_environment(ledger_ex: Exchange,
                                                          tmp_path: Path) -> None:
    shugu = Path(sys.executable).with_name("shugu")
    env = {"PATH": "/usr/bin:/bin", "SHUGU_DATA_DIR": str(ledger_ex.settings.resolved_data_dir()),
           "SHUGU_DATABASE_URL": ledger_ex.settings.resolved_database_url(),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    out = tmp_path / "ledger.jsonl.gz"
    done = subprocess.run([str(shugu), "ledger", "export", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(shugu), "ledger", "verify"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "ledger intact" in done.stdout, done.stdout + done.stderr
    with ledger_ex.transaction() as s:
        s.execute(update(LedgerEvent).where(LedgerEvent.seq == 9).values(payload="{}"))
    done = subprocess.run([str(shugu), "ledger", "verify"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "event 9" in done.stdout and "commitment_mismatch" in done.stdout
    # The export was taken before the edit and still verifies on its own.
    done = subprocess.run([str(shugu), "ledger", "verify", str(out)],
                          env={"PATH": "/usr/bin", "PYTHONPATH": env["PYTHONPATH"]},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_verify_against_a_kept_tree_head(ledger_ex: Exchange, tmp_path: Path) -> None:
    with ledger_ex.read() as s:
        sth = s.get(TreeHead, 12)
        assert sth is not None
        kept = tmp_path / "sth.json"
        kept.write_text(tree_heads.to_schema(sth, ledger_ex.key).model_dump_json())
    args = ["ledger", "verify", *db_args(ledger_ex), "--tree-head", str(kept)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with ledger_ex.transaction() as s:
        s.execute(delete(LedgerEvent).where(LedgerEvent.seq == 11))
        s.execute(delete(TreeHead).where(TreeHead.size == 12))
    rewrite_consistently(ledger_ex)
    assert runner.invoke(app, ["ledger", "verify", *db_args(ledger_ex)]).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "first problem at event 11" in result.output and "missing_event" in result.output
    kept.write_text("{}")
    assert runner.invoke(app, args).exit_code == 2


def _without_tree_heads(path: Path) -> None:
    lines = [json.loads(x) for x in path.read_text("utf-8").splitlines()]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines if x.get("t") != "sth"))


def test_pinned_key_and_a_file_without_tree_heads(ledger_ex: Exchange, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    assert runner.invoke(app, ["ledger", "export", *db_args(ledger_ex), str(out)]).exit_code == 0
    key = ledger_ex.key.public_b64
    result = runner.invoke(app, ["ledger", "verify", str(out), "--public-key", key])
    assert result.exit_code == 0, result.output
    _without_tree_heads(out)
    result = runner.invoke(app, ["ledger", "verify", str(out), "--public-key", key])
    assert result.exit_code == 1, result.output
    assert "unsigned_end" in result.output


@pytest.mark.parametrize("key", ["nonsense", "bm9uc2Vuc2U="])
def test_nonsense_key_exits_2_blaming_the_key(ledger_ex: Exchange, tmp_path: Path,
                                              key: str) -> None:
    out = tmp_path / "ledger.jsonl"
    assert runner.invoke(app, ["ledger", "export", *db_args(ledger_ex), str(out)]).exit_code == 0
    for args in ([str(out)], db_args(ledger_ex)):
        result = runner.invoke(app, ["ledger", "verify", *args, "--public-key", key])
        assert result.exit_code == 2, result.output
        assert "public key" in result.output and "signature" not in result.output


def test_public_key_from_the_data_dir(ledger_ex: Exchange) -> None:
    result = runner.invoke(app, ["ledger", "public-key", "--data-dir",
                                 str(ledger_ex.settings.resolved_data_dir())])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ledger_ex.key.public_b64


def test_database_with_an_unsigned_tail(ledger_ex: Exchange) -> None:
    from shugu.ledger import service as ledger

    with ledger_ex.transaction() as s:
        ledger.append(s, actor="system", action="late.event", subject="thing:late", payload={})
    result = runner.invoke(app, ["ledger", "verify", *db_args(ledger_ex)])
    assert result.exit_code == 0 and "no signature covers them yet" in result.output
    result = runner.invoke(app, ["ledger", "verify", *db_args(ledger_ex),
                                 "--public-key", ledger_ex.key.public_b64])
    assert result.exit_code == 1 and "unsigned_end" in result.output, result.output
