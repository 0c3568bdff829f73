"""Check one consumer query against the analysis rules and rewrite it for the engine.

Accepted shape (like the aggregation rules of the commercial clean rooms): ONE SELECT over
entitled tables joined with explicit `ON a.key = b.key` equalities, WHERE/GROUP BY/HAVING/
ORDER BY/LIMIT, aggregates from an allowlist and a small set of scalar functions. No
subqueries, CTEs, set operations, windows, table functions, parameters or casts of columns
(a failed cast prints the value). See docs/sandbox.md for each refusal code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from shugu.sandbox.gate import threshold
from shugu.sandbox.gate.catalog import PRIVATE_SCHEMA, Catalog, TableSpec
from shugu.sandbox.gate.errors import Refused, SyntaxRefused, refuse
from shugu.sandbox.gate.totality import total_select

DIALECT = "duckdb"
AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Count: "COUNT", exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}
SCALARS: tuple[type[exp.Expression], ...] = (
    exp.Lower, exp.Upper, exp.Length, exp.Substring, exp.Trim, exp.Concat, exp.ConcatWs,
    exp.Coalesce, exp.Round, exp.Floor, exp.Ceil, exp.Abs, exp.Sign, exp.Year, exp.Month,
    exp.Day, exp.Quarter, exp.Week, exp.DayOfWeek, exp.DateTrunc, exp.TimestampTrunc,
    exp.Extract, exp.TryCast, exp.Greatest, exp.Least, exp.Nullif, exp.Left, exp.Right,
    exp.Replace, exp.StrPosition, exp.Case, exp.If, exp.DPipe)
OPERATORS: tuple[type[exp.Expression], ...] = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.EQ, exp.NEQ, exp.GT,
    exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.And, exp.Or, exp.Not,
    exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.Paren, exp.Tuple)
LEAVES: tuple[type[exp.Expression], ...] = (
    exp.Literal, exp.Boolean, exp.Null, exp.Identifier, exp.DataType, exp.Var, exp.Interval)
COMPARISONS: tuple[type[exp.Expression], ...] = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.In, exp.Between, exp.Like, exp.ILike, exp.Is)
STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Alias, exp.Ordered, exp.Where, exp.Having, exp.Group, exp.Order, exp.Limit, exp.Offset,
    exp.Cast, exp.Distinct)
CLAUSES = {"expressions": "SELECT", "from_": "FROM", "from": "FROM", "joins": "JOIN",
           "where": "WHERE", "group": "GROUP BY", "having": "HAVING", "order": "ORDER BY",
           "limit": "LIMIT", "offset": "OFFSET", "distinct": "DISTINCT"}
OUTPUT_CLAUSES = ("SELECT", "GROUP BY", "HAVING", "ORDER BY")
INTERNAL_PREFIX = "__shugu"


@dataclass
class Gated:
    """A query that passed the gate, with what the engine and the accounting need."""

    select: exp.Select                   # the consumer's query over engine views
    specs: dict[str, TableSpec]          # alias -> table
    thresholds: list[threshold.Threshold]
    mode: str
    fingerprint: str
    groups: list[exp.Expression] = field(default_factory=list)
    rule_versions: dict[str, int] = field(default_factory=dict)

    @property
    def provider_specs(self) -> list[TableSpec]:
        return [s for s in self.specs.values() if not s.private]

    def phase_a(self) -> str:
        return threshold.phase_a(total_select(self.select), self.thresholds)

    def phase_b(self) -> str:
        return threshold.phase_b(total_select(self.select), self.thresholds)

    def identity_sets(self) -> str:
        return threshold.identity_sets(self.select, self.groups, self.thresholds)

    def plain(self) -> str:
        """The query as written, over the engine views, its scalar expressions made total,
        without thresholds (restricted aggregation reads only cells of >= k identities)."""
        return total_select(self.select).sql(dialect=DIALECT)


# Limits checked before and right after parsing: the parser and every later walk over the
# tree recurse, so a few thousand nested parentheses, NOTs or ORs would otherwise end in a
# RecursionError (a 500) instead of a refusal.
MAX_SQL_CHARS = 100_000
MAX_TOKENS = 10_000
MAX_NESTING = 64       # parentheses, and unary NOT/-/+ chains
MAX_TREE_DEPTH = 120   # of the parsed tree (a chain of 1,000 ORs is 1,000 deep)
MAX_LIMIT = 10**12


def _too_complex(what: str) -> Refused:
    return refuse("sql_too_complex", f"the SQL is too complex ({what}); simplify it",
                  clause=None, rule="sql_size_limits")


def _precheck(sql: str) -> None:
    if len(sql) > MAX_SQL_CHARS:
        raise _too_complex(f"more than {MAX_SQL_CHARS:,} characters")
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except (ParseError, TokenError) as exc:
        raise SyntaxRefused(f"the SQL does not parse: {str(exc).splitlines()[0][:300]}",
                            code="sql_syntax", clause=None, column=None,
                            rule="sql_must_parse") from None
    if len(tokens) > MAX_TOKENS:
        raise _too_complex(f"more than {MAX_TOKENS:,} tokens")
    depth = unary = 0
    for token in tokens:
        kind = token.token_type.name
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            depth -= 1
        unary = unary + 1 if kind in ("NOT", "DASH", "PLUS", "TILDA") else 0
        if depth + unary > MAX_NESTING:
            raise _too_complex(f"nested more than {MAX_NESTING} levels")


def _depth(tree: exp.Expression) -> int:
    """The tree's depth, without recursion."""
    deepest = 0
    stack: list[tuple[exp.Expression, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_TREE_DEPTH:
            return deepest
        stack.extend((child, d + 1) for child in node.iter_expressions())
    return deepest


def parse(sql: str) -> exp.Expression:
    _precheck(sql)
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except (ParseError, TokenError) as exc:
        raise SyntaxRefused(f"the SQL does not parse: {str(exc).splitlines()[0][:300]}",
                            code="sql_syntax", clause=None, column=None,
                            rule="sql_must_parse") from None
    except RecursionError:
        raise _too_complex("nested too deeply") from None
    if len(statements) != 1:
        raise refuse("multiple_statements", "send exactly one SELECT statement",
                     rule="one_statement")
    if _depth(statements[0]) > MAX_TREE_DEPTH:
        raise _too_complex(f"expressions nested more than {MAX_TREE_DEPTH} levels")
    return statements[0]


def check(sql: str, catalog: Catalog) -> Gated:
    tree = parse(sql)
    if isinstance(tree, (exp.Union, exp.Except, exp.Intersect)):
        raise refuse("set_operation_not_allowed", "UNION, EXCEPT and INTERSECT are not "
                     "allowed", clause="SELECT", rule="single_select")
    if not isinstance(tree, exp.Select):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this)
        raise refuse("statement_not_allowed", f"only SELECT is allowed, not {kind}",
                     clause=kind, rule="select_only")
    gated = _Checker(tree, catalog).run()
    if gated.mode == "aggregate":
        from shugu.sandbox.gate import restricted  # it builds on this module's Gated

        restricted.check(gated)
    return gated


class _Checker:
    def __init__(self, select: exp.Select, catalog: Catalog) -> None:
        self.select = select
        self.catalog = catalog
        self.aliases: dict[str, TableSpec] = {}
        self.output_aliases: set[str] = set()
        self.has_aggregate = False

    # -- structure ------------------------------------------------------------------------

    def run(self) -> Gated:
        s = self.select
        for key, value in s.args.items():
            if value in (None, [], False):
                continue
            if key not in CLAUSES and key != "kind":
                raise refuse("clause_not_allowed", f"the {key.upper()} clause is not allowed",
                             clause=key.upper(), rule="allowed_clauses")
        if s.args.get("kind"):
            raise refuse("clause_not_allowed", "SELECT INTO / SELECT AS STRUCT is not allowed",
                         clause="SELECT", rule="allowed_clauses")
        distinct = s.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise refuse("clause_not_allowed", "DISTINCT ON is not allowed", clause="DISTINCT",
                         rule="allowed_clauses")
        self._tables()
        self.output_aliases = {p.alias.lower() for p in s.expressions if p.alias}
        for projection in s.expressions:
            if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                    and isinstance(projection.this, exp.Star)):
                raise refuse("star_not_allowed", "name the output columns; * is not allowed",
                             clause="SELECT", rule="explicit_output")
            if projection.alias and projection.alias.lower().startswith(INTERNAL_PREFIX):
                raise refuse("reserved_name", f"names starting with {INTERNAL_PREFIX} are "
                             "reserved", clause="SELECT", rule="reserved_names")
        self._resolve_group_by()
        for key, clause in CLAUSES.items():
            if key in ("from_", "from", "joins", "distinct"):
                continue
            value = s.args.get(key)
            for node in value if isinstance(value, list) else [value]:
                if node is not None:
                    self._visit(node, clause, None)
        self._joins()
        if not self.has_aggregate and not s.args.get("group"):
            raise refuse("aggregation_required", "the query must aggregate (GROUP BY or an "
                         "aggregate function); row-level output is not allowed",
                         clause="SELECT", rule="aggregate_only")
        providers = {a: t for a, t in self.aliases.items() if not t.private}
        if not providers:
            raise refuse("no_product_table", "the query must read at least one product table",
                         clause="FROM", rule="product_table_required")
        modes = {t.rules.mode for t in providers.values() if t.rules is not None}
        # A restricted-aggregation table is answered alone (restricted.check refuses any
        # other table next to it); a dp table only with dp tables (dp_plan.plan).
        mode = "dp" if "dp" in modes else "aggregate" if "aggregate" in modes else "templates"
        # Sorted by table, so two queries over the same tables line up column for column.
        thresholds = [threshold.Threshold(alias=a, identity=t.rules.identity,
                                          k=t.rules.min_identities, mask=t.mask)
                      for a, t in sorted(providers.items(), key=lambda at: (at[1].ref, at[0]))
                      if t.rules is not None]
        fingerprint, groups = self._fingerprint()
        self._rename_tables()
        return Gated(select=s, specs=dict(self.aliases), thresholds=thresholds, mode=mode,
                     fingerprint=fingerprint, groups=groups,
                     rule_versions={t.ref: int(t.rule_version or 0)
                                    for t in providers.values()})

    def _tables(self) -> None:
        s = self.select
        from_ = s.args.get("from_") or s.args.get("from")
        if from_ is None:
            raise refuse("no_product_table", "the query must read a product table",
                         clause="FROM", rule="product_table_required")
        sources = [from_.this] + [j.this for j in s.args.get("joins") or []]
        for node in sources:
            if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
                raise refuse("table_function_not_allowed", "only named tables may be read "
                             "(no table functions, files, subqueries or VALUES)",
                             clause="FROM", rule="named_tables_only", table=node.sql()[:200])
            if node.args.get("catalog") or not node.db:
                raise refuse("table_not_allowed", f"name tables as <product>.<table> or "
                             f"mine.<table>, not {node.sql(dialect=DIALECT)!r}",
                             clause="FROM", rule="entitled_tables_only", table=node.sql())
            alias = node.args.get("alias")
            if alias is not None and alias.args.get("columns"):
                raise refuse("clause_not_allowed", "column lists in a table alias are not "
                             "allowed; use the table's own column names", clause="FROM",
                             rule="allowed_clauses")
            for arg in ("joins", "pivots", "laterals", "sample", "version", "when", "changes"):
                if node.args.get(arg):
                    raise refuse("clause_not_allowed", f"{arg} on a table is not allowed",
                                 clause="FROM", rule="allowed_clauses")
            ref = f"{node.db}.{node.name}"
            spec = self.catalog.find(ref)
            if spec is None:
                raise refuse("table_not_allowed", f"{ref} is not a table you may query "
                             "(entitled product tables and your own mine.* tables only)",
                             clause="FROM", rule="entitled_tables_only", table=ref)
            alias = (node.alias or node.name).lower()
            if alias in self.aliases:
                raise refuse("alias_required", f"two tables are named {alias!r}; give each "
                             "an alias", clause="FROM", rule="unique_table_names", table=ref)
            self.aliases[alias] = spec

    def _resolve_group_by(self) -> None:
        """Positions and output names in GROUP BY become the expressions they stand for, so
        the threshold and the differencing check see real grouping expressions."""
        group = self.select.args.get("group")
        if group is None:
            return
        for arg in ("grouping_sets", "cube", "rollup", "totals"):
            if group.args.get(arg) or any(isinstance(g, (exp.Rollup, exp.Cube,
                                                         exp.GroupingSets))
                                          for g in group.expressions):
                raise refuse("clause_not_allowed", "ROLLUP, CUBE and GROUPING SETS are not "
                             "allowed", clause="GROUP BY", rule="allowed_clauses")
        if group.args.get("all"):
            raise refuse("clause_not_allowed", "GROUP BY ALL is not allowed; list the "
                         "grouping columns", clause="GROUP BY", rule="allowed_clauses")
        projections = self.select.expressions
        by_alias = {p.alias.lower(): p.this for p in projections if p.alias}
        for item in list(group.expressions):
            target: exp.Expression | None = None
            if isinstance(item, exp.Literal) and not item.is_string:
                n = int(item.this)
                if not 1 <= n <= len(projections):
                    raise refuse("invalid_group_by", f"GROUP BY {n} names no output column",
                                 clause="GROUP BY", rule="allowed_clauses")
                p = projections[n - 1]
                target = p.this if isinstance(p, exp.Alias) else p
            elif isinstance(item, exp.Column) and not item.table \
                    and item.name.lower() in by_alias and not self._is_real_column(item.name):
                target = by_alias[item.name.lower()]
            if target is not None:
                item.replace(target.copy())

    def _is_real_column(self, name: str) -> bool:
        return any(t.column(name) for t in self.aliases.values())

    # -- expressions ----------------------------------------------------------------------

    def _visit(self, node: exp.Expression, clause: str, agg: str | None) -> None:
        if isinstance(node, (exp.Select, exp.Subquery, exp.Union, exp.Except, exp.Intersect,
                             exp.With, exp.CTE, exp.Exists)):
            raise refuse("subquery_not_allowed", "subqueries are not allowed", clause=clause,
                         rule="single_select")
        if isinstance(node, (exp.Window, exp.WindowSpec)):
            raise refuse("window_not_allowed", "window functions are not allowed",
                         clause=clause, rule="no_windows")
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            raise refuse("parameter_not_allowed", "parameters are only for templates",
                         clause=clause, rule="literal_sql")
        if isinstance(node, exp.Filter):
            raise refuse("conditional_aggregate_not_allowed", "FILTER on aggregates is not "
                         "allowed (filter in WHERE)", clause=clause, rule="no_conditional_"
                         "aggregates")
        if isinstance(node, exp.AggFunc):
            self._aggregate(node, clause, agg)
            return
        if isinstance(node, exp.Column):
            self._column(node, clause, agg)
            return
        if isinstance(node, exp.Star):
            raise refuse("star_not_allowed", "* is only allowed in COUNT(*)", clause=clause,
                         rule="explicit_output")
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast) \
                and not isinstance(node.this, exp.Literal):
            raise refuse("cast_not_allowed", "CAST of a column is not allowed (a failed cast "
                         "reveals the value); use TRY_CAST", clause=clause,
                         column=_column_name(node.this), rule="no_error_oracles")
        if isinstance(node, (exp.Case, exp.If)) and agg is not None:
            raise refuse("conditional_aggregate_not_allowed", "CASE/IF inside an aggregate is "
                         "not allowed (filter in WHERE)", clause=clause,
                         rule="no_conditional_aggregates")
        allowed = isinstance(node, SCALARS + OPERATORS + LEAVES + STRUCTURE)
        if isinstance(node, exp.Limit | exp.Offset):
            value = node.expression if node.expression is not None else node.this
            if not (isinstance(value, exp.Literal) and value.is_int
                    and 0 <= int(value.name) <= MAX_LIMIT):
                raise refuse("invalid_limit", f"LIMIT and OFFSET take a whole number from 0 to "
                             f"{MAX_LIMIT:,}", clause=clause, rule="literal_limit")
            return
        if isinstance(node, exp.Distinct) and agg is None:
            allowed = False
        if not allowed:
            name = node.sql_name() if isinstance(node, exp.Func) else node.key
            if isinstance(node, exp.Anonymous):
                name = str(node.this)
            raise refuse("function_not_allowed" if isinstance(node, exp.Func)
                         else "syntax_not_allowed",
                         f"{name.upper()} is not allowed in sandbox queries", clause=clause,
                         rule="function_allowlist", function=name.upper())
        for child in node.iter_expressions():
            self._visit(child, clause, agg)

    def _aggregate(self, node: exp.AggFunc, clause: str, outer: str | None) -> None:
        name = AGGREGATES.get(type(node))
        if name is None:
            raise refuse("function_not_allowed", f"{node.sql_name().upper()} is not an "
                         "allowed aggregate (COUNT, COUNT DISTINCT, SUM, AVG, MIN, MAX)",
                         clause=clause, rule="aggregate_allowlist",
                         function=node.sql_name().upper())
        if outer is not None:
            raise refuse("nested_aggregate", "aggregates cannot be nested", clause=clause,
                         rule="aggregate_allowlist")
        if clause not in OUTPUT_CLAUSES or clause == "GROUP BY":
            raise refuse("aggregate_not_allowed_here", f"aggregates are not allowed in "
                         f"{clause}", clause=clause, rule="aggregate_placement")
        self.has_aggregate = True
        if isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
            name = "COUNT_DISTINCT"
        for child in node.iter_expressions():
            if isinstance(child, exp.Star) and isinstance(node, exp.Count):
                continue
            self._visit(child, clause, name)

    def _resolve(self, col: exp.Column, clause: str) -> tuple[str, TableSpec, str] | None:
        """(alias, table, real column) or None for a reference to an output alias."""
        qualifier = col.table.lower() if col.table else None
        if col.db:
            qualifier = f"{col.db}.{col.table}".lower()
            matches = [(a, t) for a, t in self.aliases.items() if t.ref.lower() == qualifier]
            if len(matches) != 1:
                raise refuse("unknown_column", f"{col.sql()} names no table of the query",
                             clause=clause, column=col.sql(), rule="known_columns")
            qualifier = matches[0][0]
        if qualifier is not None:
            spec = self.aliases.get(qualifier)
            if spec is None:
                raise refuse("unknown_column", f"{col.sql()}: no table {col.table!r} in the "
                             "query", clause=clause, column=col.sql(), rule="known_columns")
            real = spec.column(col.name)
            if real is None:
                raise refuse("unknown_column", f"{spec.ref} has no column {col.name!r}",
                             clause=clause, column=col.sql(), rule="known_columns")
            return qualifier, spec, real
        found = [(a, t, t.column(col.name)) for a, t in self.aliases.items()
                 if t.column(col.name)]
        if not found:
            if clause in ("ORDER BY", "HAVING") and col.name.lower() in self.output_aliases:
                return None
            raise refuse("unknown_column", f"no table of the query has a column "
                         f"{col.name!r}", clause=clause, column=col.name, rule="known_columns")
        if len(found) > 1:
            raise refuse("ambiguous_column", f"{col.name!r} is in several tables; qualify it",
                         clause=clause, column=col.name, rule="known_columns")
        alias, spec, real = found[0]
        assert real is not None
        # Qualify it, so renaming tables to engine views keeps it unambiguous.
        col.set("table", exp.to_identifier(alias))
        return alias, spec, real

    def _column(self, col: exp.Column, clause: str, agg: str | None) -> None:
        resolved = self._resolve(col, clause)
        if resolved is None:
            return
        alias, spec, real = resolved
        col.set("db", None)
        col.set("catalog", None)
        col.set("table", exp.to_identifier(alias))
        name = f"{spec.ref}.{real}"
        if spec.private:
            return
        rule = spec.rule(real)
        if rule is None:
            raise refuse("column_not_allowed", f"{name} is not usable: the provider's rules "
                         "do not list it", clause=clause, column=name, rule="listed_columns")
        role = rule.role
        if clause == "JOIN":
            return  # join conditions are checked as a whole in _joins
        if agg is not None:
            allowed = {"COUNT", "COUNT_DISTINCT"} if role in ("identity", "join_key") else \
                set(rule.functions) if role == "aggregatable" else \
                {"COUNT", "COUNT_DISTINCT", "MIN", "MAX"} if role == "dimension" else set()
            if agg not in allowed:
                raise refuse("aggregate_not_allowed", f"{agg.replace('_', ' ')} of {name} is "
                             f"not allowed ({role} column; allowed: "
                             f"{', '.join(sorted(allowed)) or 'none'})", clause=clause,
                             column=name, rule=f"{role}_functions", function=agg)
            return
        if role in ("identity", "join_key"):
            if _compared_with_literal(col):
                raise refuse("literal_probe", f"{name} is an {role} column and cannot be "
                             "compared with a value", clause=clause, column=name,
                             rule="no_identity_literals")
            raise refuse("identity_not_allowed", f"{name} is an {role} column: it may only "
                         "appear in JOIN ON and in COUNT/COUNT DISTINCT", clause=clause,
                         column=name, rule="identity_never_output")
        if clause == "WHERE":
            return
        if role == "aggregatable":
            raise refuse("aggregate_required", f"{name} may only be output through an "
                         f"aggregate ({', '.join(rule.functions)})", clause=clause,
                         column=name, rule="aggregatable_columns")
        if role == "never_output":
            raise refuse("never_output_column", f"{name} may be used only in WHERE",
                         clause=clause, column=name, rule="never_output")

    # -- joins ----------------------------------------------------------------------------

    def _joins(self) -> None:
        for join in self.select.args.get("joins") or []:
            kind = (join.args.get("kind") or "").upper()
            method = (join.args.get("method") or "").upper()
            if kind in ("CROSS", "SEMI", "ANTI", "ASOF", "POSITIONAL") or method or \
                    join.args.get("using"):
                raise refuse("join_not_allowed", f"{kind or method or 'USING'} joins are not "
                             "allowed; join with ON a.key = b.key", clause="JOIN",
                             rule="equi_joins_only")
            on = join.args.get("on")
            if on is None:
                raise refuse("join_condition_required", "every join needs ON a.key = b.key",
                             clause="JOIN", rule="equi_joins_only")
            for eq in _conjuncts(on):
                self._join_equality(eq)

    def _join_equality(self, eq: exp.Expression) -> None:
        if not (isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column)
                and isinstance(eq.expression, exp.Column)):
            for c in eq.find_all(exp.Column):
                resolved = self._resolve(c, "JOIN")
                if resolved and not resolved[1].private and _compared_with_literal(c):
                    role = (resolved[1].rule(resolved[2]) or None)
                    if role and role.role in ("identity", "join_key"):
                        raise refuse("literal_probe", f"{resolved[1].ref}.{resolved[2]} "
                                     "cannot be compared with a value", clause="JOIN",
                                     column=f"{resolved[1].ref}.{resolved[2]}",
                                     rule="no_identity_literals")
            raise refuse("join_condition_not_allowed", "join conditions must be equalities "
                         "of two tables' key columns joined with AND", clause="JOIN",
                         column=eq.sql(dialect=DIALECT)[:200], rule="equi_joins_only")
        left = self._resolve(eq.this, "JOIN")
        right = self._resolve(eq.expression, "JOIN")
        assert left is not None and right is not None
        if left[0] == right[0]:
            raise refuse("join_condition_not_allowed", "a join condition must compare two "
                         "different tables", clause="JOIN", rule="equi_joins_only")
        for (_, spec, col), (_, other, _) in ((left, right), (right, left)):
            if spec.private:
                continue
            rule = spec.rule(col)
            if rule is None or rule.role not in ("identity", "join_key") or \
                    not spec.joinable(col, other):
                target = PRIVATE_SCHEMA if other.private else other.ref
                raise refuse("join_not_allowed", f"the rules of {spec.ref} do not allow "
                             f"joining on {col} with {target}", clause="JOIN",
                             column=f"{spec.ref}.{col}", rule="allowed_joins")

    # -- output ---------------------------------------------------------------------------

    def _rename_tables(self) -> None:
        for table in self.select.find_all(exp.Table):
            alias = (table.alias or table.name).lower()
            spec = self.aliases[alias]
            table.replace(exp.Table(this=exp.to_identifier(spec.view),
                                    alias=exp.TableAlias(this=exp.to_identifier(alias))))

    def _fingerprint(self) -> tuple[str, list[exp.Expression]]:
        """Same tables, joins, grouping and identities: queries whose answers can be
        subtracted from each other. Private tables count as one ("mine"), so swapping one's
        own table for a slightly smaller copy is still compared."""

        def canon(e: exp.Expression) -> str:
            e = e.copy()
            for c in e.find_all(exp.Column):
                if c.table:
                    spec = self.aliases[c.table.lower()]
                    c.set("table", exp.to_identifier(
                        PRIVATE_SCHEMA if spec.private else spec.ref.replace(".", "/")))
            return e.sql(dialect=DIALECT).lower()

        s = self.select
        group = s.args.get("group")
        keyed = sorted(((canon(g), g) for g in (group.expressions if group else [])),
                       key=lambda cg: cg[0])
        body = {
            "tables": sorted(PRIVATE_SCHEMA if t.private else t.ref
                             for t in self.aliases.values()),
            "joins": sorted(canon(j.args["on"]) for j in s.args.get("joins") or []),
            "group": [c for c, _ in keyed],
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        # The grouping expressions themselves (renamed with the tables below), in canonical
        # order, for the differencing check.
        return digest, [g for _, g in keyed]


def _conjuncts(e: exp.Expression) -> list[exp.Expression]:
    e = e.unnest()
    if isinstance(e, exp.And):
        return _conjuncts(e.this) + _conjuncts(e.expression)
    return [e]


def _compared_with_literal(col: exp.Column) -> bool:
    node: exp.Expression | None = col.parent
    while node is not None and not isinstance(node, exp.Select):
        if isinstance(node, COMPARISONS):
            return any(isinstance(x, exp.Literal) for x in node.find_all(exp.Literal))
        node = node.parent
    return False


def _column_name(e: exp.Expression) -> str | None:
    return e.sql(dialect=DIALECT) if isinstance(e, exp.Column) else None


__all__ = ["DIALECT", "Gated", "Refused", "check", "parse"]
