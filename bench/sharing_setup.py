"""Shared by the Delta Sharing benchmarks: a real exchange and server on loopback, a provider
and an entitled consumer with its profile file.

The server runs as its own process (`shugu serve`), as in production: in-process, the
client's and the server's Python would share one GIL and each slow the other down.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from shugu.catalog.models import DataTable
from shugu.client import Client
from shugu.config import Settings
from shugu.identity.uscc import complete
from shugu.runtime import Exchange


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bench:
    exchange: Exchange
    process: subprocess.Popen[bytes]
    url: str
    provider: Client
    consumer: Client
    consumer_org_id: int

    def profile(self, path: Path) -> str:
        profile = self.consumer.sharing_profile("bench")
        path.write_text(json.dumps(profile))
        return str(path)

    def table_dir(self, name: str) -> Path:
        with self.exchange.read() as s:
            t = s.scalars(select(DataTable).where(DataTable.name == name)).one()
            return self.exchange.settings.tables_dir / t.location

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.exchange.close()


def start(data_dir: Path, database_url: str | None = None) -> Bench:
    port = _free_port()
    settings = Settings(data_dir=data_dir, database_url=database_url, port=port,
                        sth_interval_seconds=0)
    ex = Exchange.open(settings)  # bootstraps the operator; the server finds it done
    command = [sys.executable, "-m", "shugu.cli", "serve", "--data-dir", str(data_dir),
               "--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded shared machine can take long to import
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()  # never leave a late starter running on a deleted data dir
            process.wait(timeout=20)
            ex.close()
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.1)
    assert ex.first_start is not None, "use a fresh data dir"
    operator = Client(url)
    operator.login(ex.first_start.username, ex.first_start.password)
    p = operator.create_organization(complete("91330100MA0000001"), "基准提供方", ["provider"],
                                     "bench_provider")
    c = operator.create_organization(complete("91330100MA0000002"), "基准使用方", ["consumer"],
                                     "bench_consumer")
    return Bench(ex, process, url, Client(url, p.token.secret),
                 Client(url, c.token.secret), c.organization.id)
