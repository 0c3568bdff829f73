"""Engines that run gated queries. DuckDB in-process now; a Spark engine can follow by
implementing `Engine`."""

from shugu.sandbox.engine.base import Engine, EngineSession, Limits, Source
from shugu.sandbox.engine.duck import DuckDBEngine

__all__ = ["DuckDBEngine", "Engine", "EngineSession", "Limits", "Source"]
