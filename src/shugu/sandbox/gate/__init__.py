"""The SQL gate: parse with sqlglot, check the tree against the analysis rules, rewrite it
for the engine. Pure functions; nothing here touches a database or a file."""

from shugu.sandbox.gate.catalog import Catalog, TableSpec
from shugu.sandbox.gate.check import Gated, check
from shugu.sandbox.gate.errors import Refused

__all__ = ["Catalog", "Gated", "Refused", "TableSpec", "check"]
