"""API shapes of the sandbox: analysis rules, queries, templates, reviews, private tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["identity", "join_key", "dimension", "aggregatable", "never_output"]
Function = Literal["COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"]
Mode = Literal["aggregate", "dp", "templates"]
ParamType = Literal["string", "integer", "number", "date"]
TABLE_REF = r"^(mine|[a-z0-9][a-z0-9-]{1,98}[a-z0-9]\.[a-z_][a-z0-9_]{0,99})$"
NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
# Clamp bounds beyond this make no sense for any column and would overflow the noise scale.
BOUND_LIMIT = 1e15


class ColumnRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    functions: list[Function] = Field(
        default_factory=list,
        description="aggregatable columns: the aggregates allowed over them; identity, join "
        "key and dimension columns always allow COUNT and COUNT_DISTINCT")
    lower: float | None = Field(default=None, ge=-BOUND_LIMIT, le=BOUND_LIMIT,
                                allow_inf_nan=False, description="DP clamp bound (dp mode)")
    upper: float | None = Field(default=None, ge=-BOUND_LIMIT, le=BOUND_LIMIT,
                                allow_inf_nan=False, description="DP clamp bound (dp mode)")

    @model_validator(mode="after")
    def _check(self) -> ColumnRule:
        if self.functions and self.role != "aggregatable":
            raise ValueError("functions are declared only for aggregatable columns")
        if self.role == "aggregatable" and not self.functions:
            raise ValueError("an aggregatable column needs at least one allowed function")
        if (self.lower is None) != (self.upper is None):
            raise ValueError("lower and upper bounds are declared together")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError("lower must be below upper")
        return self


class JoinRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    with_: str = Field(alias="with", pattern=TABLE_REF,
                       description='"mine" (the consumer\'s own tables) or "<product>.<table>"')
    on: list[str] = Field(min_length=1, description="this table's identity/join-key columns")


class DPSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epsilon_per_query: float = Field(default=1.0, gt=0, le=10, allow_inf_nan=False,
                                     description="ε a query spends unless it asks for less")
    max_epsilon_per_query: float | None = Field(
        default=None, gt=0, le=10, allow_inf_nan=False,
        description="the most ε one query may ask for (default: epsilon_per_query)")
    max_rows_per_identity: int = Field(
        default=1, ge=1, le=10_000,
        description="L: rows one identity may contribute to an answer (the rest are left "
        "out at random); the noise grows with L")
    delta: float = Field(default=1e-6, gt=0, lt=1e-3, allow_inf_nan=False,
                         description="δ of releasing a grouped answer's groups")

    @model_validator(mode="after")
    def _check(self) -> DPSettings:
        if self.max_epsilon_per_query is not None and \
                self.max_epsilon_per_query < self.epsilon_per_query:
            raise ValueError("max_epsilon_per_query must be at least epsilon_per_query")
        return self


class RulesIn(BaseModel):
    """A table's analysis rules. Columns left out may not be used at all."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mode: Mode = Field(default="dp", description="dp (default): entity-level differential "
                       "privacy; aggregate: the restricted aggregation rule (exact answers from "
                       "cells of at least k identities); templates: only provider templates")
    min_identities: int = Field(default=10, ge=2, le=100_000,
                                description="k: distinct identities needed in every output row")
    columns: dict[str, ColumnRule] = Field(min_length=1)
    joins: list[JoinRule] = Field(default_factory=list)
    dp: DPSettings = Field(default_factory=DPSettings)

    @model_validator(mode="after")
    def _check(self) -> RulesIn:
        identities = [n for n, c in self.columns.items() if c.role == "identity"]
        if len(identities) != 1:
            raise ValueError("declare exactly one identity column (whose distinct values the "
                             "threshold counts)")
        for join in self.joins:
            for name in join.on:
                rule = self.columns.get(name)
                if rule is None or rule.role not in ("identity", "join_key"):
                    raise ValueError(f"join column {name!r} must be an identity or join_key "
                                     "column")
        if self.mode == "dp":
            for name, c in self.columns.items():
                if c.role == "aggregatable" and {"SUM", "AVG"} & set(c.functions) \
                        and c.lower is None:
                    raise ValueError(f"dp mode: column {name!r} needs lower/upper bounds for "
                                     "SUM/AVG")
        return self

    @property
    def identity(self) -> str:
        return next(n for n, c in self.columns.items() if c.role == "identity")


class RulesOut(BaseModel):
    product: str
    table: str
    version: int
    rules: RulesIn
    created_at: datetime


class AccuracyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    margin: float = Field(gt=0, le=1e15, allow_inf_nan=False,
                          description="± wanted on every COUNT and SUM output")
    confidence: float = Field(default=0.95, gt=0, lt=1, allow_inf_nan=False)


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Longer than the gate's own limit, so that over-long SQL is refused by the gate with
    # sql_too_complex and kept on record like every refusal.
    sql: str = Field(min_length=1, max_length=1_000_000)
    epsilon: float | None = Field(default=None, gt=0, le=10, allow_inf_nan=False,
                                  description="DP tables: ε this answer may spend (default "
                                  "the tables' ε per query, at most their maximum)")
    accuracy: AccuracyIn | None = Field(default=None, description="DP tables: spend the ε "
                                        "that gives this margin instead")

    @model_validator(mode="after")
    def _check(self) -> QueryIn:
        if self.epsilon is not None and self.accuracy is not None:
            raise ValueError("give epsilon or accuracy, not both")
        return self


class EstimateOut(BaseModel):
    epsilon: float = Field(description="ε the query would spend")
    epsilon_each: float
    delta: float
    contributions: int = Field(description="L: rows one identity may contribute")
    outputs: list[DPOutputOut]
    group_threshold: int | None = Field(default=None, description="noisy identities a group "
                                        "needs to be shown (grouped queries)")


class TemplateRunIn(BaseModel):
    parameters: dict[str, str | int | float | date] = Field(default_factory=dict)


class DPOutputOut(BaseModel):
    name: str
    kind: str = Field(description="group, count, sum or avg")
    epsilon: float | None = None
    lower: float | None = None
    upper: float | None = None
    margin_95: float | None = Field(default=None, description="± at 95% (count, sum)")


class DPAnswerOut(BaseModel):
    epsilon: float = Field(description="ε spent by this answer (on each dp entitlement)")
    epsilon_each: float
    delta: float = Field(default=0.0, description="δ of the group release")
    contributions: int = Field(default=1, description="L: rows one identity may contribute")
    remaining_epsilon: dict[str, float] = Field(
        description="entitlement id -> ε left after this answer")
    outputs: list[DPOutputOut]


class QueryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    sql: str
    sql_sha256: str
    template_id: int | None
    review_id: int | None
    error_code: str | None
    error: dict[str, Any] | None
    rule_versions: dict[str, int]
    table_versions: dict[str, int]
    rows: int
    suppressed: int
    truncated: bool
    result_sha256: str | None
    elapsed_ms: int
    created_at: datetime
    dp: DPAnswerOut | None = Field(default=None, description="set for a differentially "
                                   "private (noisy) answer")


class PrivacyBudgetIn(BaseModel):
    epsilon: float = Field(gt=0, le=1_000_000_000, allow_inf_nan=False,
                           description="total ε of the entitlement (per period if it refreshes)")
    refresh: Literal["daily", "monthly"] | None = Field(
        default=None, description="forget what was spent at the start of each day or month "
        "(Beijing time); none: the total is for the entitlement's whole life")


class PrivacyBudgetOut(BaseModel):
    entitlement_id: int
    total_epsilon: float | None = Field(description="None: no budget, no DP answers")
    spent_epsilon: float
    remaining_epsilon: float
    refresh: str | None = None
    period_start: datetime | None = None


class QueryResult(BaseModel):
    query: QueryOut
    columns: list[str]
    rows: list[list[Any]]


class TemplateIn(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    sql: str = Field(min_length=1, max_length=100_000)
    parameters: dict[str, ParamType] = Field(default_factory=dict)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product: str
    name: str
    description: str | None
    sql: str
    parameters: dict[str, str]
    status: str
    created_at: datetime


class ReviewIn(BaseModel):
    product: str
    sql: str = Field(min_length=1, max_length=100_000)
    note: str | None = None


class DecisionIn(BaseModel):
    approve: bool
    note: str | None = None


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    consumer_org_id: int
    product: str
    sql: str
    sql_sha256: str
    note: str | None
    status: str
    decision_note: str | None
    decided_at: datetime | None
    created_at: datetime


class PrivateTableOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    columns: list[dict[str, str]]
    rows: int
    sha256: str
    created_at: datetime
