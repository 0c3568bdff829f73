"""The running exchange: settings, database, platform key. One per process (or per test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shugu import db
from shugu.config import DEFAULT_PLATFORM_USCC, Settings
from shugu.identity import passwords
from shugu.identity import service as identity
from shugu.identity.uscc import complete
from shugu.ledger.models import LedgerHead
from shugu.platform_key import PlatformKey


@dataclass
class FirstStart:
    """What the operator needs to log in after the very first start."""

    username: str
    password: str


@dataclass
class Exchange:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    key: PlatformKey
    first_start: FirstStart | None = field(default=None)

    @classmethod
    def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> Exchange:
        settings = settings or Settings()
        data_dir = settings.resolved_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
        passwords.configure(time_cost=settings.argon2_time_cost,
                            memory_kib=settings.argon2_memory_kib,
                            parallelism=settings.argon2_parallelism)
        if migrate:
            db.upgrade(url)
        engine = db.make_engine(url)
        exchange = cls(settings=settings, engine=engine,
                       sessions=db.make_sessionmaker(db.writer(engine)),
                       readers=db.make_sessionmaker(engine),
                       key=PlatformKey.load_or_create(settings.keys_dir))
        exchange._bootstrap()
        return exchange

    def _bootstrap(self) -> None:
        with self.transaction() as session:
            if session.get(LedgerHead, 1) is None:
                session.add(LedgerHead(id=1, size=0, frontier=[]))
                session.flush()
            uscc = self.settings.platform_uscc or complete(DEFAULT_PLATFORM_USCC)
            created = identity.bootstrap_platform(session, uscc=uscc,
                                                  name=self.settings.platform_name)
            if created is not None:
                _org, user, password = created
                self.first_start = FirstStart(user.username, password)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with db.transaction(self.sessions) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (never takes SQLite's write lock)."""
        session = self.readers()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring loaded objects.
            session.close()

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(days=self.settings.token_ttl_days)

    def close(self) -> None:
        self.engine.dispose()
