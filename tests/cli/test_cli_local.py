"""`shugu serve`, `shugu demo` and `shugu db upgrade` as real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

SHUGU = [sys.executable, "-m", "shugu.cli"]


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    env["SHUGU_DATA_DIR"] = str(data_dir)
    return env


def wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not answer")


def test_serve_prints_first_start_login_and_answers(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    env = env_for(tmp_path / "data")
    env["SHUGU_DATABASE_URL"] = db_url
    proc = subprocess.Popen([*SHUGU, "serve", "--port", str(port)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v1/health", proc)
        # The first OpenAPI build takes seconds on a loaded machine: no short timeout.
        spec = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=120).json()
        assert "/api/v1/products/{slug}/tables/{table}/data" in spec["paths"]
        assert "/api/v1/search" in spec["paths"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "password:" in out and "login operator" in out


def test_serve_on_a_port_in_use_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (["serve"], ["demo", "--rows", "100"]):
            data_dir = tmp_path / command[0]
            result = subprocess.run([*SHUGU, *command, "--port", str(port), "--data-dir",
                                     str(data_dir)], env=env_for(data_dir),
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 1, result.stdout + result.stderr
            assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
            assert "Traceback" not in result.stderr
            # Nothing was started or created: no "serving at", no first-start password.
            assert "serving" not in result.stdout and "password" not in result.stdout
            assert not data_dir.exists()


def test_db_upgrade(tmp_path: Path) -> None:
    result = subprocess.run([*SHUGU, "db", "upgrade"], env=env_for(tmp_path / "d"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "shugu.db").exists()


def test_demo_seeds_and_prints_tokens(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    cmd = [*SHUGU, "demo", "--data-dir", str(data_dir), "--rows", "5000", "--no-serve"]
    first = subprocess.run(cmd, env=env_for(data_dir), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "zj-enterprise-power-monthly" in out and "5,000 rows" in out
    # Not serving: it says so, and how to serve it, instead of "ready at".
    assert "is ready at" not in out and "not serving" in out
    assert f"shugu serve --data-dir {data_dir}" in out
    assert out.count("shg_") >= 4
    # A second start reuses the data and hands out fresh tokens.
    second = subprocess.run(cmd, env=env_for(data_dir), capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr
    assert "5,000 rows" in second.stdout
    # The bank's rights come from agreements concluded through the negotiation, once.
    import sqlite3

    with sqlite3.connect(data_dir / "shugu.db") as db:
        assert db.execute("SELECT plan FROM agreements ORDER BY id").fetchall() == \
            [("subscription",), ("per_query",)]
        assert db.execute("SELECT DISTINCT source FROM entitlements").fetchall() == \
            [("agreement",)]
        assert db.execute("SELECT count(*) FROM offers").fetchone() == (3,)
        assert db.execute("SELECT count(*) FROM analysis_rules").fetchone() == (1,)
        assert db.execute("SELECT sample_rows FROM products ORDER BY id").fetchall() == \
            [(0,), (5,)]
    assert "billing run" in out and "voucher list" in out
    # Portal sign-ins for every role, new on each start.
    import re

    from argon2 import PasswordHasher

    logins = [re.findall(r"username (\S+)\s+password (\S+)", run.stdout)
              for run in (first, second)]
    assert [u for u, _ in logins[1]] == ["operator", "grid", "bank", "auditor"]
    hasher = PasswordHasher()
    with sqlite3.connect(data_dir / "shugu.db") as db:
        for (user, old), (_, new) in zip(*logins, strict=True):
            stored = db.execute("SELECT password_hash FROM users WHERE username = ?",
                                (user,)).fetchone()[0]
            assert hasher.verify(stored, new) and old != new
    verify = subprocess.run([*SHUGU, "ledger", "verify", "--data-dir", str(data_dir)],
                            env=env_for(data_dir), capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
