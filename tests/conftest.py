"""Shared fixtures: both databases, a real exchange per test, a real HTTP server on loopback.

PostgreSQL comes from SHUGU_TEST_PG_URL (scripts/test sets it, starting a server if none
answers); default postgresql://postgres@127.0.0.1:5432/test. Each test run gets its own
database on that server, dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shugu import db
from shugu.app import create_app
from shugu.client import Client
from shugu.config import Settings
from shugu.identity.uscc import complete
from shugu.runtime import Exchange

# The suite signs in thousands of times: cheap argon2id here (the production default is
# RFC 9106's low-memory profile; tests/identity checks the default and that hashes made at
# any cost keep verifying). Subprocesses of the CLI tests inherit these.
os.environ.setdefault("SHUGU_ARGON2_TIME_COST", "1")
os.environ.setdefault("SHUGU_ARGON2_MEMORY_KIB", "8")
os.environ.setdefault("SHUGU_ARGON2_PARALLELISM", "1")

# Property tests are judged by their examples, not by the wall clock: on a loaded 2-core
# machine the first example (imports, a first connection) can take seconds, and
# hypothesis's default 200 ms deadline then fails a correct test.
hypothesis_settings.register_profile("shugu", deadline=None)
hypothesis_settings.load_profile("shugu")

PG_URL = os.environ.get("SHUGU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    admin_url = make_url(db_url_normalise(PG_URL))
    name = f"shugu_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL at {PG_URL} is not usable ({exc}); run scripts/test, "
                    "which starts one")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
        ), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def db_url_normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"))]
        if names:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names)
                              + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shugu.db'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def exchange(settings: Settings) -> Iterator[Exchange]:
    ex = Exchange.open(settings)
    yield ex
    ex.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, exchange: Exchange) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(exchange), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120  # a ceiling for a loaded machine, not a wait
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def server(exchange: Exchange) -> Iterator[LiveServer]:
    live = LiveServer(exchange).start()
    yield live
    live.stop()


@pytest.fixture
def operator(server: LiveServer, exchange: Exchange) -> Iterator[Client]:
    assert exchange.first_start is not None
    client = Client(server.url)
    client.login(exchange.first_start.username, exchange.first_start.password)
    yield client
    client.close()


_counter = iter(range(10_000_000))


def new_uscc() -> str:
    """A fresh valid 统一社会信用代码 for test organisations."""
    return complete(f"91330100MA{next(_counter):07d}")


class Orgs:
    """Creates organisations through the API and hands back a client logged in as each."""

    def __init__(self, operator: Client, url: str) -> None:
        self.operator = operator
        self.url = url
        self.clients: list[Client] = []

    def new(self, roles: list[str], name: str = "测试机构") -> Client:
        n = next(_counter)
        created = self.operator.create_organization(new_uscc(), f"{name}{n}", roles,
                                                    f"admin{n}")
        client = Client(self.url, created.token.secret)
        client.org_id = created.organization.id  # type: ignore[attr-defined]
        self.clients.append(client)
        return client


@pytest.fixture
def orgs(operator: Client, server: LiveServer) -> Iterator[Orgs]:
    factory = Orgs(operator, server.url)
    yield factory
    for c in factory.clients:
        c.close()


@pytest.fixture
def provider(orgs: Orgs) -> Client:
    return orgs.new(["provider"], "浙江电网公司")


@pytest.fixture
def consumer(orgs: Orgs) -> Client:
    return orgs.new(["consumer"], "杭州银行")


def list_product(provider: Client, operator: Client, slug: str,
                 data: bytes | None = b"region,value\n1,2\n", table: str = "data") -> None:
    """Take a product through listing review with the real API (submit, operator approves),
    so that other organisations see it. A product without data gets a small table first."""
    product = provider.get_product(slug)
    if data is not None and not any(t.current_version is not None for t in product.tables):
        if table not in {t.name for t in product.tables}:
            provider.create_table(slug, table)
        provider.ingest(slug, table, data, format="csv")
    listing = provider.submit_listing(slug)
    operator.approve_listing(listing.id)


def race(exchange: Exchange, act: Callable[[Session], object], *, threads: int = 16,
         each: int = 4) -> list[str]:
    """Run `act` threads × each times, every call in its own write transaction, all threads
    released at once; the outcome of each call: "ok" or the ShuguError code it raised."""
    from shugu.errors import ShuguError

    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        for _ in range(each):
            try:
                with exchange.transaction() as s:
                    act(s)
                result = "ok"
            except ShuguError as exc:
                result = exc.code
            with lock:
                outcomes.append(result)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return outcomes
