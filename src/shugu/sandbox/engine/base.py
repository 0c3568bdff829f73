"""The engine interface: open a session over a set of table sources, run statements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class Source:
    """One table as a view: the parquet files of exactly one Delta version (or a consumer's
    own file), or `arrow` when files cannot be read directly (partition columns live in
    the Delta log, not in the files)."""

    view: str
    files: tuple[str, ...] = ()
    schema: pa.Schema | None = None
    arrow: object | None = None


@dataclass(frozen=True)
class Limits:
    threads: int = 2
    memory_limit: str = "1GB"
    timeout_seconds: float = 30.0
    max_rows: int = 10_000


@dataclass
class Answer:
    table: pa.Table
    truncated: bool = False
    extra: dict[str, int] = field(default_factory=dict)


class EngineSession(Protocol):
    def query(self, sql: str, max_rows: int | None = None) -> Answer: ...


class Engine(Protocol):
    name: str

    def session(self, sources: list[Source],
                limits: Limits) -> AbstractContextManager[EngineSession]: ...
