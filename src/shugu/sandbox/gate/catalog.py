"""What the gate knows about the tables a consumer may name."""

from __future__ import annotations

from dataclasses import dataclass, field

from shugu.sandbox.schemas import ColumnRule, RulesIn

PRIVATE_SCHEMA = "mine"


@dataclass(frozen=True)
class TableSpec:
    """One table as the consumer names it (`<product>.<table>` or `mine.<name>`)."""

    ref: str
    view: str
    columns: tuple[str, ...]
    rules: RulesIn | None = None  # None: the consumer's own table
    rule_version: int | None = None
    # A column the engine adds with the identity's bucket mask (never visible to the SQL).
    mask: str | None = None

    @property
    def private(self) -> bool:
        return self.rules is None

    def column(self, name: str) -> str | None:
        """The real column name, matched case-insensitively as DuckDB does."""
        lowered = name.lower()
        return next((c for c in self.columns if c.lower() == lowered), None)

    def rule(self, column: str) -> ColumnRule | None:
        return None if self.rules is None else self.rules.columns.get(column)

    def joinable(self, column: str, other: TableSpec) -> bool:
        if self.rules is None:
            return True
        target = PRIVATE_SCHEMA if other.private else other.ref
        return any(j.with_ == target and column in j.on for j in self.rules.joins)


@dataclass
class Catalog:
    tables: dict[str, TableSpec] = field(default_factory=dict)

    def add(self, spec: TableSpec) -> None:
        self.tables[spec.ref.lower()] = spec

    def find(self, ref: str) -> TableSpec | None:
        return self.tables.get(ref.lower())
