"""A real `shugu serve` killed with SIGKILL mid-upload, mid-ingest and mid-commit, then
restarted, on SQLite and PostgreSQL: no partial Delta version, the earlier data intact, and
no upload leftovers (nor orphaned Delta files) in the data dir once it has started again.

Also: a client that hangs up mid-upload gets its partial file deleted at once, and the
start-up sweep leaves alone an upload that another live process still holds.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from shugu.catalog import uploads
from shugu.catalog.models import DataTable
from shugu.client import Client, ShuguAPIError
from shugu.identity import schemas as identity_schemas
from shugu.identity import service as identity
from shugu.identity.models import User
from shugu.runtime import Exchange
from tests.catalog.test_ingest_crash import files_of, referenced
from tests.conftest import free_port, new_uscc

ROOT = Path(__file__).parents[2]
ROW = b"1234567,orphan row that must never be seen,3.14159\n"


class Serve:
    """`python -m shugu.cli serve` on the test's data dir and database."""

    def __init__(self, exchange: Exchange) -> None:
        settings = exchange.settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SHUGU_STH_INTERVAL_SECONDS": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shugu.cli", "serve", "--data-dir", str(settings.data_dir),
             "--database-url", str(settings.resolved_database_url()),
             "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "shugu serve exited"
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "shugu serve did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class World:
    """A provider with a product and a table holding one published row."""

    def __init__(self, exchange: Exchange, tmp: Path) -> None:
        self.ex = exchange
        self.tmp = tmp
        with exchange.transaction() as s:
            operator = identity.principal_for(
                s.scalars(select(User).where(User.username == "operator")).one())
            data = identity_schemas.OrganizationIn(
                uscc=new_uscc(), name="浙江电网公司", roles=["provider"], admin_username="grid")
            *_, self.secret = identity.create_organization(s, operator, data,
                                                           exchange.token_ttl)
        self.servers: list[Serve] = []

    def serve(self) -> Client:
        server = Serve(self.ex)
        self.servers.append(server)
        return Client(server.url, self.secret)

    @property
    def server(self) -> Serve:
        return self.servers[-1]

    def row(self) -> DataTable:
        with self.ex.read() as s:
            return s.scalars(select(DataTable).where(DataTable.name == "t")).one()

    def table_dir(self) -> Path:
        return self.ex.settings.tables_dir / self.row().location

    def leftovers(self) -> list[str]:
        up = self.ex.settings.uploads_dir
        return sorted(p.name for p in up.iterdir()) if up.exists() else []

    def big_csv(self, rows: int = 1_200_000) -> Path:
        path = self.tmp / "big.csv"
        with open(path, "wb") as fh:
            fh.write(b"id,note,x\n")
            for _ in range(rows // 100_000):
                fh.write(ROW * 100_000)  # ~60 MB: long enough to be caught in the act
        return path

    def assert_only_the_kept_row(self, client: Client) -> None:
        row = self.row()
        assert (row.current_version, row.row_count) == (0, 1)
        table = DeltaTable(str(self.table_dir()))
        assert table.version() == 0  # no partial version on disk either
        assert table.to_pyarrow_table().column("note").to_pylist() == ["kept"]
        assert files_of(self.table_dir()) == referenced(self.table_dir(), range(1))
        assert not list(self.table_dir().parent.glob(".*.pending"))
        assert self.leftovers() == []
        product = client.get_product("power-use")
        assert product.tables[0].current_version == 0

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def world(exchange: Exchange, tmp_path: Path):  # type: ignore[no-untyped-def]
    w = World(exchange, tmp_path)
    client = w.serve()
    client.create_product("power-use", "企业月度用电量")
    client.create_table("power-use", "t")
    client.ingest("power-use", "t", b"id,note,x\n1,kept,1.0\n")
    yield w
    w.close()


def _start_upload(url: str, secret: str, declared: int) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"PUT /api/v1/products/power-use/tables/t/data HTTP/1.1\r\n"
                  f"Host: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n"
                  f"Content-Type: application/octet-stream\r\n"
                  f"Content-Length: {declared}\r\n\r\n").encode())
    sock.sendall(b"id,note,x\n")
    return sock


def _wait_for(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _uploaded_bytes(w: World) -> int:
    up = w.ex.settings.uploads_dir
    return sum(p.stat().st_size for p in up.iterdir()) if up.exists() else 0


def test_kill_mid_upload_then_restart(world: World) -> None:
    sock = _start_upload(world.server.url, world.secret, 500 << 20)
    try:
        chunk = ROW * 100_000
        while _uploaded_bytes(world) < 20 << 20:
            sock.sendall(chunk)
        world.server.kill()
    finally:
        sock.close()
    assert world.leftovers(), "the killed upload should have left its partial file"
    client = world.serve()
    world.assert_only_the_kept_row(client)
    assert client.ingest("power-use", "t", b"id,note,x\n2,after,2.0\n").version == 1


@pytest.mark.parametrize("moment", ["while writing", "after the delta commit"])
def test_kill_mid_ingest_then_restart(world: World, moment: str) -> None:
    big = world.big_csv()
    table_dir = world.table_dir()
    pending = table_dir.parent / f".{table_dir.name}.pending"
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            Client(world.server.url, world.secret, timeout=600).ingest("power-use", "t", big)
        except (ShuguAPIError, httpx.HTTPError) as exc:
            errors.append(exc)  # the server dies under it

    sender = threading.Thread(target=upload, daemon=True)
    if moment == "while writing":
        sender.start()
        _wait_for(pending.exists, "the Delta write to start")
        world.server.kill()
        assert not (table_dir / "_delta_log" / f"{1:020d}.json").exists()
    else:
        with world.ex.transaction() as s:
            # Hold the row the server must lock to publish; it waits right there.
            s.execute(select(DataTable).where(DataTable.name == "t").with_for_update())
            sender.start()
            _wait_for((table_dir / "_delta_log" / f"{1:020d}.json").exists,
                      "the Delta commit")
            world.server.kill()
    sender.join(timeout=60)
    assert errors, "the client should have seen the server die"
    assert world.leftovers(), "the killed ingest should have left its upload file"
    client = world.serve()  # start-up cleans the uploads and cuts the table back
    world.assert_only_the_kept_row(client)
    assert client.ingest("power-use", "t", b"id,note,x\n2,after,2.0\n").version == 1
    assert sorted(DeltaTable(str(table_dir)).to_pyarrow_table()
                  .column("note").to_pylist()) == ["after", "kept"]


def test_client_hanging_up_mid_upload_leaves_nothing(world: World) -> None:
    sock = _start_upload(world.server.url, world.secret, 100 << 20)
    sock.sendall(ROW * 50_000)
    _wait_for(lambda: _uploaded_bytes(world) > 0, "the upload to start")
    sock.close()
    _wait_for(lambda: world.leftovers() == [], "the partial upload to be deleted", 30)
    client = Client(world.server.url, world.secret)
    assert client.ingest("power-use", "t", b"id,note,x\n2,after,2.0\n").version == 1
    assert world.leftovers() == []


def test_sweep_keeps_uploads_another_live_process_holds(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    stale = folder / "upload-1-dead.part"
    stale.write_bytes(b"left by a killed server")
    old_style = folder / "upload-0123456789abcdef"  # named as before this scheme
    old_style.write_bytes(b"x")
    live = folder / "upload-2-live.part"
    live.write_bytes(b"still arriving")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(live)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        removed = uploads.sweep(folder)
        assert sorted(removed) == sorted([stale.name, old_style.name])
        assert [p.name for p in folder.iterdir()] == [live.name]
    finally:
        holder.kill()
        holder.wait()
    assert uploads.sweep(folder) == [live.name]  # its holder died: now it is stale


def test_an_upload_in_flight_survives_a_sweep(tmp_path: Path) -> None:
    import asyncio

    async def body():  # type: ignore[no-untyped-def]
        yield b"a,b\n"
        # Another process starting now sweeps: our file is locked, so it stays.
        assert uploads.sweep(tmp_path) == []
        yield b"1,2\n"

    path = asyncio.run(uploads.receive(body(), tmp_path, 1 << 20, None))
    try:
        assert path.read_bytes() == b"a,b\n1,2\n"
        fd = os.open(path, os.O_RDONLY)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    finally:
        uploads.discard(path)
    assert list(tmp_path.iterdir()) == []
