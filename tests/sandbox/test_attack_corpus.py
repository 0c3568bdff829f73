"""An adversarial corpus against the sandbox (issue 12), run through the real API on SQLite
and PostgreSQL, against the same person-level table under the restricted aggregation rule
("aggregate", exact, k = 10) and under entity-level differential privacy ("dp").

Organised by the issue's seven classes (trackers inside aggregates, membership tests,
dimension extremes, own-table amplification, oracles, differencing pairs, nesting) plus
random sampling, HAVING trackers, ORDER BY/LIMIT, NULL tricks, smuggling identities and
never-output columns, syntax that could hide a column from the gate (alias column lists,
COLUMNS(*), CTEs, FROM-first...), DP parameter abuse, oracles on exact aggregates under DP,
and averaging repeated DP answers (also concurrently) against the ε budget.

An attack passes when every query answers 201 or a 4xx with a code that is on record, and
- aggregate: no answer (nor any difference of two answers, nor a tracker's combination)
  is the exact value of one identity or of a group under k, an answer aimed at a target
  equals the same answer aimed at nobody, and every answer is DuckDB's own over the cells
  with at least k identities;
- dp: every answer carries noise whose stated margin covers one identity's bounded effect,
  stays where bounded contributions can put it, and two answers that differ by one
  identity differ by no more than its bounded contribution plus the stated noise.
See tests/sandbox/corpus_world.py for the data and the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from shugu.client import Client
from tests.sandbox.corpus_world import (
    AGG,
    DP,
    DP_MAX_EPS,
    KWH_UPPER,
    NOBODY,
    TABLE,
    V1,
    V1_KWH,
    V2,
    Corpus,
    L,
    Outcome,
    api,
    ask,
    check_aggregate,
    check_decoy,
    check_dp,
    check_error_echo,
    check_sequence_aggregate,
    check_sequence_dp,
    is_forbidden,
    open_corpus,
    parquet,
    people,
    truth_rows,
    unmatched,
)

MODES = ["aggregate", "dp"]


# The whole corpus runs on SQLite; on PostgreSQL (the same engine, another metadata store)
# it is slow-marked, and tests/sandbox/test_attack_corpus_pg.py runs a core of it there.
@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def corpus(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    tmp: Path = tmp_path_factory.mktemp(f"corpus-{request.param}")
    with open_corpus(request.param, tmp) as c:
        yield c


@dataclass(frozen=True)
class Attack:
    id: str
    sql: str | tuple[str, ...]                 # one query, or a sequence (pair, tracker)
    decoy: str | None = None                   # the same query aimed at nobody
    deterministic: bool = True                 # False: random sampling, no DuckDB truth
    repeat: int = 1
    differ: int = 1                            # dp: identities the sequence's queries differ by
    combine: Callable[[list[float]], float] | None = None   # tracker formula over answers
    gap: int = 0                               # unrelated queries between a pair's members


def A(id: str, sql: str | tuple[str, ...], decoy: str | None = None, **kw: Any) -> Attack:
    return Attack(id, sql, decoy, **kw)


def aimed(template: str, real: str, nobody: str, **kw: Any) -> Attack:
    """An attack written once with {X}: X = the real target, and the decoy X = nobody."""
    return Attack("", template.replace("{X}", real), template.replace("{X}", nobody), **kw)


def named(id: str, a: Attack) -> Attack:
    return Attack(id, a.sql, a.decoy, a.deterministic, a.repeat, a.differ, a.combine, a.gap)


TRACKERS = [
    named("greatest", aimed("SELECT region, SUM(greatest(kwh - {X}, 0)) AS v FROM {T} "
                            "GROUP BY region", "9000000", "99000000")),
    named("sign", aimed("SELECT SUM(kwh * (sign(kwh - {X}) + 1) / 2) AS v FROM {T}",
                        "9000000", "99000000")),
    named("nullif", aimed("SELECT COUNT(nullif(kwh > {X}, false)) AS v FROM {T}",
                          "9000000", "99000000")),
    named("case", aimed("SELECT SUM(CASE WHEN kwh > {X} THEN kwh ELSE 0 END) AS v FROM {T}",
                        "9000000", "99000000")),
    named("cast-bool", aimed("SELECT SUM(CAST(kwh > {X} AS INTEGER) * kwh) AS v FROM {T}",
                             "9000000", "99000000")),
    named("identity-in-count", aimed(
        "SELECT COUNT(CASE WHEN pid = '{X}' THEN 1 END) AS v FROM {T}", V1, NOBODY)),
    named("identity-in-sum", aimed(
        "SELECT SUM(CASE WHEN pid = '{X}' THEN kwh END) AS v FROM {T}", V1, NOBODY)),
    named("filter-dimension", aimed(
        "SELECT SUM(kwh) FILTER (WHERE cohort = {X}) AS v FROM {T}", "1937", "1800")),
    named("filter-identity", aimed(
        "SELECT SUM(kwh) FILTER (WHERE pid = '{X}') AS v FROM {T}", V1, NOBODY)),
    named("dimension-weight", aimed(
        "SELECT SUM(kwh * CAST(cohort = {X} AS INTEGER)) AS v FROM {T}", "1937", "1800")),
    named("integer-division", aimed(
        "SELECT SUM(visits // {X} * visits) AS v FROM {T}", "1000000", "100000000")),
    named("least", aimed("SELECT SUM(kwh - least(kwh, {X})) AS v FROM {T}",
                         "9000000", "99000000")),
    named("where-measure", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE kwh > {X}",
                                 "9000000", "99000000")),
    named("where-measure-count", aimed(
        "SELECT region, COUNT(*) AS v FROM {T} WHERE visits > {X} GROUP BY region",
        "500000", "5000000")),
    named("avg-case", aimed("SELECT AVG(CASE WHEN kwh > {X} THEN kwh END) AS v FROM {T}",
                            "9000000", "99000000")),
    named("never-output-filter", aimed(
        "SELECT SUM(kwh) AS v FROM {T} WHERE note = '病历-{X}-2'", V1, NOBODY)),
    named("count-distinct-case", aimed(
        "SELECT COUNT(DISTINCT CASE WHEN kwh > {X} THEN pid END) AS v FROM {T}",
        "9000000", "99000000")),
    named("hash-weight", aimed(
        "SELECT SUM(kwh * CAST(hash(pid) = hash('{X}') AS INTEGER)) AS v FROM {T}",
        V1, NOBODY)),
]

MEMBERSHIP = [
    named("count-distinct-equals", aimed(
        "SELECT COUNT(DISTINCT pid = '{X}') AS v FROM {T}", V1, NOBODY)),
    named("like", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid LIKE '{X}%'", V1, NOBODY)),
    named("greater", aimed("SELECT COUNT(*) AS v FROM {T} WHERE pid > '{X}'",
                           "P0400", "P9990")),
    named("in-list", aimed("SELECT COUNT(*) AS v FROM {T} WHERE pid IN ('{X}')", V1, NOBODY)),
    named("lower", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE lower(pid) = lower('{X}')",
                         V1, NOBODY)),
    named("group-by-equals", aimed(
        "SELECT pid = '{X}' AS me, COUNT(*) AS v FROM {T} GROUP BY 1", V1, NOBODY)),
    named("between", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid BETWEEN '{X}' AND '{X}'",
                           V1, NOBODY)),
    named("starts-with", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE starts_with(pid, '{X}')",
                               V1, NOBODY)),
    named("regexp", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE regexp_matches(pid, '^{X}$')",
                          V1, NOBODY)),
    named("scalar-subquery", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid = (SELECT '{X}')",
                                   V1, NOBODY)),
    named("concat", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid = concat('{X}', '')",
                          V1, NOBODY)),
    named("identity-expression", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid || '' = '{X}'",
                                       V1, NOBODY)),
    named("hash", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE hash(pid) = hash('{X}')",
                        V1, NOBODY)),
    named("built-from-dimension", aimed(
        "SELECT SUM(kwh) AS v FROM {T} WHERE pid = '{X}' || CAST(cohort - 1994 AS VARCHAR)",
        "P000", "P999")),
    named("substring", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE substr(pid, 2) = '{X}'",
                             V1[1:], NOBODY[1:])),
    named("own-table", aimed("SELECT COUNT(*) AS n, SUM(t.kwh) AS v FROM {T} t "
                             "JOIN mine.{X} m ON t.pid = m.pid", "only_v1", "only_nobody")),
    named("having-identity", aimed(
        "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
        "HAVING COUNT(CASE WHEN pid = '{X}' THEN 1 END) > 0", V1, NOBODY)),
    A("complement-pair", ("SELECT COUNT(DISTINCT pid) AS v FROM {T}",
                          f"SELECT COUNT(DISTINCT pid) AS v FROM {{T}} WHERE pid <> '{V1}'")),
]

EXTREMES = [
    A("min-cohort", "SELECT MIN(cohort) AS v FROM {T}"),
    A("max-region", "SELECT MAX(region) AS v FROM {T}"),
    A("min-cohort-narrow", "SELECT sector, MIN(cohort) AS v FROM {T} WHERE region = '杭州' "
                           "GROUP BY sector"),
    A("min-cohort-range", "SELECT MIN(cohort) AS v FROM {T} WHERE cohort < 2000"),
    named("having-min", aimed("SELECT sector, COUNT(*) AS v FROM {T} GROUP BY sector "
                              "HAVING MIN(cohort) < {X}", "1940", "1800")),
    named("having-max-region", aimed("SELECT sector, COUNT(*) AS v FROM {T} GROUP BY sector "
                                     "HAVING MAX(region) = '{X}'", "舟山", "舟岛")),
    A("max-measure", "SELECT region, MAX(kwh) AS v FROM {T} GROUP BY region"),
    A("min-measure", "SELECT MIN(kwh) AS v FROM {T} WHERE region = '宁波'"),
    A("median", "SELECT region, median(kwh) AS v FROM {T} GROUP BY region"),
    A("quantile", "SELECT quantile_disc(kwh, 0.999) AS v FROM {T}"),
    A("mode", "SELECT mode(kwh) AS v FROM {T}"),
    A("arg-max-note", "SELECT arg_max(note, kwh) AS v FROM {T}"),
    A("any-value", "SELECT region, any_value(kwh) AS v FROM {T} GROUP BY region"),
    A("min-identity", "SELECT MIN(pid) AS v FROM {T}"),
    A("string-agg", "SELECT string_agg(DISTINCT region, ',') AS v FROM {T}"),
    named("max-month-in-tiny-cell", aimed("SELECT MAX(month) AS v FROM {T} WHERE cohort = {X}",
                                          "1937", "1800")),
    A("count-distinct-dimension", "SELECT region, COUNT(DISTINCT cohort) AS v FROM {T} "
                                  "GROUP BY region"),
    A("first-by-order", "SELECT cohort, COUNT(*) AS v FROM {T} GROUP BY cohort "
                        "ORDER BY cohort LIMIT 1"),
    A("window-extreme", "SELECT region, MIN(MIN(cohort)) OVER () AS v FROM {T} "
                        "GROUP BY region"),
]

AMPLIFICATION = [
    A("weight-column", "SELECT SUM(t.kwh * m.w) AS v FROM {T} t JOIN mine.weights m "
                       "ON t.pid = m.pid"),
    A("duplicated-rows-sum", "SELECT SUM(t.kwh) AS v FROM {T} t JOIN mine.dup m "
                             "ON t.pid = m.pid"),
    A("duplicated-rows-count", "SELECT COUNT(*) AS v FROM {T} t JOIN mine.dup m "
                               "ON t.pid = m.pid"),
    A("duplicated-rows-grouped", "SELECT t.region, COUNT(*) AS n, SUM(t.visits) AS v "
                                 "FROM {T} t JOIN mine.dup m ON t.pid = m.pid "
                                 "GROUP BY t.region"),
    A("own-segment", "SELECT m.segment, SUM(t.kwh) AS v FROM {T} t JOIN mine.seg m "
                     "ON t.pid = m.pid GROUP BY m.segment"),
    A("own-weight-filter", "SELECT SUM(t.kwh) AS v FROM {T} t JOIN mine.weights m "
                           "ON t.pid = m.pid WHERE m.w > 0"),
    A("self-join", "SELECT SUM(a.kwh) AS v FROM {T} a JOIN {T} b ON a.pid = b.pid"),
    A("left-join-from-mine", "SELECT COUNT(t.kwh) AS v FROM mine.dup m LEFT JOIN {T} t "
                             "ON t.pid = m.pid"),
    A("using", "SELECT SUM(kwh) AS v FROM {T} JOIN mine.dup USING (pid)"),
    named("in-own-table", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid IN "
                                "(SELECT pid FROM mine.{X})", "only_v1", "only_nobody")),
    named("avg-own-table", aimed("SELECT AVG(t.kwh) AS v FROM {T} t JOIN mine.{X} m "
                                 "ON t.pid = m.pid", "only_v1", "only_nobody")),
    A("comma-join", "SELECT COUNT(*) AS v FROM {T} t, mine.dup m WHERE t.pid = m.pid"),
]

ORACLES = [
    named("integer-division-by-zero", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE 1 // (cohort - {X}) = 0", "1937", "1800")),
    named("modulo-by-zero", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE cohort % (cohort - {X}) = 0", "1948", "1800")),
    named("cast-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE CAST(CASE WHEN cohort = {X} THEN 'x' ELSE '1' "
        "END AS INTEGER) = 1", "1937", "1800")),
    named("overflow", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE (CASE WHEN region = '{X}' THEN "
        "9223372036854775807 ELSE 0 END) + cohort > 0", "舟山", "舟岛")),
    named("error-function", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE CASE WHEN cohort = {X} THEN error('hit') "
        "ELSE true END", "1948", "1800")),
    named("chr-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE chr(CASE WHEN cohort = {X} THEN -1 ELSE 65 END)"
        " = 'A'", "1937", "1800")),
    named("make-date-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE make_date(2020, CASE WHEN cohort = {X} THEN 13 "
        "ELSE 1 END, 1) IS NOT NULL", "1937", "1800")),
    named("measure-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE 1 // (CAST(kwh AS BIGINT) - {X}) = 0",
        "9876543", "98765430")),
    named("identity-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE 1 // (CASE WHEN pid = '{X}' THEN 0 ELSE 1 END)"
        " = 1", V1, NOBODY)),
    named("failure-in-group-by", aimed(
        "SELECT 1 // (cohort - {X}) AS g, COUNT(*) AS v FROM {T} GROUP BY 1", "1937", "1800")),
    named("failure-in-aggregate", aimed(
        "SELECT SUM(visits // (cohort - {X})) AS v FROM {T}", "1937", "1800")),
    named("failure-in-having", aimed(
        "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
        "HAVING MIN(1 // (cohort - {X})) >= 0", "1937", "1800")),
    named("failure-in-order-by", aimed(
        "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
        "ORDER BY MIN(1 // (cohort - {X}))", "1937", "1800")),
    named("never-output-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE 1 // (CASE WHEN note = '病历-{X}-2' THEN 0 "
        "ELSE 1 END) = 1", V1, NOBODY)),
    named("null-cell-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE 1 // (CASE WHEN {X} THEN 0 ELSE 1 END) = 1",
        "region IS NULL", "region = '舟岛'")),
    named("regex-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE regexp_matches(region, CASE WHEN cohort = {X} "
        "THEN '(' ELSE 'x' END)", "1937", "1800")),
    named("strptime-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE strptime(CASE WHEN cohort = {X} THEN 'bad' "
        "ELSE '2020-01-01' END, '%Y-%m-%d') IS NOT NULL", "1937", "1800")),
    A("suppression-count", "SELECT region, sector, cohort, COUNT(*) AS v FROM {T} "
                           "GROUP BY region, sector, cohort"),
    A("suppression-binary-search", "SELECT cohort >= 1940 AS b, region, COUNT(*) AS v "
                                   "FROM {T} GROUP BY 1, 2"),
]

PAIRS = [
    A("drop-one-row-measure", ("SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' "
                               "AND sector = '制造'",
                               "SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' "
                               "AND sector = '制造' AND kwh < 9000000")),
    A("drop-one-row-dimension", ("SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' "
                                 "AND sector = '制造' AND cohort = 2001",
                                 "SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' "
                                 "AND sector = '制造' AND cohort = 2001 AND month <> 2"),
      differ=25),
    A("near-ranges-between", ("SELECT SUM(kwh) AS v FROM {T} WHERE cohort BETWEEN 1937 "
                              "AND 2002", "SELECT SUM(kwh) AS v FROM {T} WHERE cohort "
                              "BETWEEN 1938 AND 2002")),
    A("near-ranges-open", ("SELECT SUM(kwh) AS v FROM {T} WHERE cohort >= 1930",
                           "SELECT SUM(kwh) AS v FROM {T} WHERE cohort > 1937")),
    A("equivalent-grouping", ("SELECT region, SUM(kwh) AS v FROM {T} GROUP BY region",
                              "SELECT region || '' AS region, SUM(kwh) AS v FROM {T} "
                              "WHERE cohort <> 1937 GROUP BY 1")),
    A("constant-grouping", ("SELECT sector, SUM(kwh) AS v FROM {T} WHERE region = '杭州' "
                            "GROUP BY sector",
                            "SELECT sector, 1 AS one, SUM(kwh) AS v FROM {T} WHERE region = "
                            "'杭州' AND cohort > 1937 GROUP BY sector, 2"), differ=3),
    A("far-apart", ("SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' AND sector = '服务'",
                    "SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州' AND sector = '服务' "
                    "AND cohort <> 1937"), gap=11),
    A("complement", ("SELECT SUM(kwh) AS v FROM {T}",
                     "SELECT SUM(kwh) AS v FROM {T} WHERE NOT (cohort = 1937)")),
    A("null-complement", ("SELECT SUM(kwh) AS v FROM {T}",
                          "SELECT SUM(kwh) AS v FROM {T} WHERE region IS NOT NULL"), differ=2),
    A("count-distinct", ("SELECT COUNT(DISTINCT pid) AS v FROM {T}",
                         "SELECT COUNT(DISTINCT pid) AS v FROM {T} WHERE cohort <> 1937")),
    A("identity-or", ("SELECT SUM(kwh) AS v FROM {T} WHERE region = '杭州'",
                      f"SELECT SUM(kwh) AS v FROM {{T}} WHERE region = '杭州' OR pid = '{V2}'")),
    A("count-without-one", ("SELECT COUNT(*) AS v FROM {T}",
                            f"SELECT COUNT(*) AS v FROM {{T}} WHERE pid <> '{V1}'")),
    A("avg-pair", ("SELECT AVG(kwh) AS v FROM {T} WHERE region = '杭州' AND sector = '服务'",
                   "SELECT AVG(kwh) AS v FROM {T} WHERE region = '杭州' AND sector = '服务' "
                   "AND cohort > 1937")),
    # Denning's general tracker: q(C) = q(C ∨ T) + q(C ∨ ¬T) − q(T ∨ ¬T), C = V2's cell.
    A("general-tracker", ("SELECT SUM(kwh) AS v FROM {T} WHERE (sector = '服务' AND "
                          "cohort = 1937) OR month = 1",
                          "SELECT SUM(kwh) AS v FROM {T} WHERE (sector = '服务' AND "
                          "cohort = 1937) OR month <> 1",
                          "SELECT SUM(kwh) AS v FROM {T} WHERE month = 1 OR month <> 1"),
      combine=lambda v: v[0] + v[1] - v[2]),
]

SAMPLING = [
    A("random-filter", "SELECT SUM(kwh) AS v FROM {T} WHERE random() < 0.001",
      deterministic=False, repeat=4),
    A("random-groups", "SELECT CAST(random() * 1000 AS INTEGER) AS g, SUM(kwh) AS v "
                       "FROM {T} GROUP BY 1", deterministic=False),
    A("random-key", "SELECT random() AS g, SUM(kwh) AS v FROM {T} GROUP BY 1",
      deterministic=False),
    A("uuid-key", "SELECT gen_random_uuid() AS g, SUM(visits) AS v FROM {T} GROUP BY 1",
      deterministic=False),
    A("sample-clause", "SELECT SUM(kwh) AS v FROM {T} USING SAMPLE 1 ROWS",
      deterministic=False),
    A("tablesample", "SELECT SUM(kwh) AS v FROM {T} TABLESAMPLE RESERVOIR(1 ROWS)",
      deterministic=False),
    A("rowid", "SELECT rowid AS g, SUM(kwh) AS v FROM {T} GROUP BY 1"),
    A("file-row-number", "SELECT file_row_number AS g, SUM(kwh) AS v FROM {T} GROUP BY 1"),
]

HAVING = [
    A("having-small-count", "SELECT region, sector, cohort, COUNT(*) AS v FROM {T} "
                            "GROUP BY region, sector, cohort HAVING COUNT(*) < 10"),
    A("having-big-sum", "SELECT region, SUM(kwh) AS v FROM {T} GROUP BY region "
                        "HAVING SUM(kwh) > 9000000"),
    named("having-max-measure", aimed("SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
                                      "HAVING MAX(kwh) > {X}", "9000000", "99000000")),
    A("having-one-identity", "SELECT region, cohort, COUNT(*) AS v FROM {T} "
                             "GROUP BY region, cohort HAVING COUNT(DISTINCT pid) = 1"),
    named("having-note", aimed("SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
                               "HAVING MAX(note) = '病历-{X}-3'", "P0401", NOBODY)),
]

ORDERING = [
    A("order-by-sum-limit", "SELECT region, sector, cohort, month, SUM(kwh) AS v FROM {T} "
                            "GROUP BY 1, 2, 3, 4 ORDER BY v DESC LIMIT 1"),
    A("order-by-max-measure", "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
                              "ORDER BY MAX(kwh) DESC LIMIT 1"),
    A("order-by-identity", "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
                           "ORDER BY MIN(pid) LIMIT 1"),
    A("offset-enumeration", "SELECT cohort AS v FROM {T} GROUP BY cohort ORDER BY cohort "
                            "LIMIT 1 OFFSET 0"),
    A("rank-window", "SELECT region, rank() OVER (ORDER BY SUM(kwh)) AS v FROM {T} "
                     "GROUP BY region"),
    A("negative-limit", "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region LIMIT -1"),
    A("huge-limit", "SELECT region, COUNT(*) AS v FROM {T} GROUP BY region "
                    "LIMIT 9223372036854775807"),
]

NULLS = [
    A("group-with-null", "SELECT region, COUNT(*) AS n, SUM(kwh) AS v FROM {T} "
                         "GROUP BY region"),
    named("where-is-null", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE {X}",
                                 "region IS NULL", "region = '舟岛'")),
    A("coalesce", "SELECT coalesce(region, '无') AS r, SUM(kwh) AS v FROM {T} GROUP BY 1"),
    A("nullif-grouping", "SELECT nullif(region, '杭州') AS r, SUM(kwh) AS v FROM {T} "
                         "GROUP BY 1"),
    A("is-distinct-pair", ("SELECT SUM(kwh) AS v FROM {T} WHERE region <> '杭州'",
                           "SELECT SUM(kwh) AS v FROM {T} WHERE region IS DISTINCT FROM "
                           "'杭州'"), differ=2),
    A("null-flag-grouping", "SELECT region IS NULL AS r, COUNT(*) AS n, SUM(kwh) AS v "
                            "FROM {T} GROUP BY 1"),
]

SMUGGLING = [
    A("group-by-note", "SELECT note, COUNT(*) AS v FROM {T} GROUP BY note"),
    named("note-like", aimed("SELECT COUNT(*) AS v FROM {T} WHERE note LIKE '病历-{X}%'",
                             V1, NOBODY)),
    A("note-length", "SELECT SUM(length(note)) AS v FROM {T}"),
    A("group-by-identity", "SELECT pid, SUM(kwh) AS v FROM {T} GROUP BY pid"),
    A("identity-prefix", "SELECT substr(pid, 1, 4) AS p, COUNT(*) AS v FROM {T} GROUP BY 1"),
    A("max-note", "SELECT MAX(note) AS v FROM {T}"),
    A("cast-identity", "SELECT CAST(pid AS VARCHAR) AS p, COUNT(*) AS v FROM {T} GROUP BY 1"),
    A("md5-identity", "SELECT md5(pid) AS p, COUNT(*) AS v FROM {T} GROUP BY 1"),
    A("group-by-measure", "SELECT kwh, COUNT(*) AS v FROM {T} GROUP BY kwh"),
    A("star", "SELECT * FROM {T}"),
    A("row-level", "SELECT region, kwh FROM {T} WHERE cohort = 1937"),
]

# Syntax that could hide a column, a literal or a whole row from a gate that reads names:
# renaming columns by a table alias, case, COLUMNS(*), positional references, the row as a
# struct, FROM-first, CTEs, derived tables, unnest, odd string literals, lambdas, functions
# that return many values, PIVOT, other join kinds, failures outside WHERE/SELECT.
SYNTAX = [
    named("alias-renames-identity", aimed(
        "SELECT SUM(kwh) AS v FROM {T} AS t(region, pid) WHERE region = '{X}'", V1, NOBODY)),
    A("alias-renames-measure", "SELECT MAX(region) AS v FROM {T} AS t(p, a, b, c, d, region)"),
    named("alias-renames-measure-filter", aimed(
        "SELECT COUNT(*) AS v FROM {T} AS t(p, a, b, c, d, region) WHERE region > {X}",
        "9000000", "99000000")),
    named("upper-case-identity", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE PID = '{X}'",
                                       V1, NOBODY)),
    named("quoted-mixed-case", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE \"Pid\" = '{X}'",
                                     V1, NOBODY)),
    named("columns-regex", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE COLUMNS('p.d') = '{X}'",
                                 V1, NOBODY)),
    A("columns-max", "SELECT MAX(COLUMNS('kwh')) AS v FROM {T}"),
    A("columns-min-all", "SELECT MIN(COLUMNS(*)) FROM {T}"),
    named("positional", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE #1 = '{X}'", V1, NOBODY)),
    named("row-as-string", aimed("SELECT SUM(t.kwh) AS v FROM {T} t WHERE CAST(t AS VARCHAR) "
                                 "LIKE '%{X}%'", V1, NOBODY)),
    named("row-struct-extract", aimed("SELECT SUM(t.kwh) AS v FROM {T} t WHERE "
                                      "struct_extract(t, 'pid') = '{X}'", V1, NOBODY)),
    named("from-first", aimed("FROM {T} SELECT SUM(kwh) AS v WHERE pid = '{X}'", V1, NOBODY)),
    named("cte", aimed("WITH x AS (SELECT * FROM {T} WHERE pid = '{X}') "
                       "SELECT SUM(kwh) AS v FROM x", V1, NOBODY)),
    named("derived-table", aimed("SELECT SUM(v) AS v FROM (SELECT kwh AS v FROM {T} "
                                 "WHERE pid = '{X}') s", V1, NOBODY)),
    A("unnest", "SELECT SUM(x) AS v FROM {T}, unnest([kwh]) u(x) WHERE x > 9000000"),
    named("dollar-quoted", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid = $${X}$$",
                                 V1, NOBODY)),
    named("e-string", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE pid = E'{X}'", V1, NOBODY)),
    named("lambda", aimed("SELECT SUM(kwh) AS v FROM {T} WHERE "
                          "len(list_filter([pid], x -> x = '{X}')) > 0", V1, NOBODY)),
    A("histogram", "SELECT histogram(kwh) AS v FROM {T} WHERE region = '杭州'"),
    A("list", "SELECT region, list(kwh) AS v FROM {T} GROUP BY region"),
    A("max-by", "SELECT max_by(kwh, visits) AS v FROM {T}"),
    A("approx-quantile", "SELECT approx_quantile(kwh, 1.0) AS v FROM {T}"),
    A("product", "SELECT product(visits) AS v FROM {T} WHERE cohort = 1937"),
    A("pivot", "PIVOT {T} ON cohort USING SUM(kwh)"),
    A("group-by-measure-predicate", "SELECT kwh > 9000000 AS big, COUNT(*) AS n, "
                                    "SUM(kwh) AS v FROM {T} GROUP BY 1"),
    named("join-condition-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} t JOIN mine.everyone m ON t.pid = m.pid "
        "AND 1 // (t.cohort - {X}) = 0", "1937", "1800")),
    named("implicit-cast-failure", aimed(
        "SELECT COUNT(*) AS v FROM {T} WHERE (CASE WHEN cohort = {X} THEN 'x' ELSE '1' END) "
        "> 0", "1937", "1800")),
    A("star-exclude", "SELECT * EXCLUDE (note) FROM {T}"),
    A("distinct-on", "SELECT DISTINCT ON (region) region, kwh FROM {T} "
                     "ORDER BY region, kwh DESC"),
    named("natural-join", aimed("SELECT SUM(kwh) AS v FROM {T} NATURAL JOIN mine.{X}",
                                "only_v1", "only_nobody")),
    named("positional-join", aimed("SELECT SUM(t.kwh) AS v FROM {T} t POSITIONAL JOIN "
                                   "mine.{X} m", "only_v1", "only_nobody")),
]

CLASSES: dict[str, list[Attack]] = {
    "1-tracker": TRACKERS, "2-membership": MEMBERSHIP, "3-extremes": EXTREMES,
    "4-amplification": AMPLIFICATION, "5-oracle": ORACLES, "6-differencing": PAIRS,
    "8-sampling": SAMPLING, "9-having": HAVING, "10-ordering": ORDERING, "11-null": NULLS,
    "12-smuggling": SMUGGLING, "13-syntax": SYNTAX,
}
ATTACKS = [(f"{cls}:{a.id}", a) for cls, attacks in CLASSES.items() for a in attacks]
assert len({i for i, _ in ATTACKS}) == len(ATTACKS)

FILLERS = [
    "SELECT region, COUNT(*) AS n FROM {T} GROUP BY region",
    "SELECT sector, SUM(visits) AS v FROM {T} GROUP BY sector",
    "SELECT month, AVG(kwh) AS v FROM {T} GROUP BY month",
]


def check_one(c: Corpus, mode: str, out: Outcome, deterministic: bool) -> None:
    check_error_echo(c, out)
    if out.answered:
        if mode == "aggregate":
            check_aggregate(c, out, deterministic=deterministic)
        else:
            check_dp(c, out)


def run_attack(c: Corpus, mode: str, a: Attack) -> list[Outcome]:
    t = c.table(mode)
    sqls = (a.sql,) if isinstance(a.sql, str) else a.sql
    outs: list[Outcome] = []
    for _ in range(a.repeat):
        for n, sql in enumerate(sqls):
            if n and a.gap:
                for g in range(a.gap):
                    check_one(c, mode, ask(c.consumer, FILLERS[g % 3].format(T=t)), True)
            out = ask(c.consumer, sql.replace("{T}", t))
            check_one(c, mode, out, a.deterministic)
            outs.append(out)
    return outs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "attack"), ATTACKS, ids=[i for i, _ in ATTACKS])
def test_attack(corpus: Corpus, mode: str, name: str, attack: Attack) -> None:
    judge(corpus, mode, attack)


def judge(corpus: Corpus, mode: str, attack: Attack) -> None:
    outs = run_attack(corpus, mode, attack)
    if len(outs) > 1 and attack.repeat == 1:
        if mode == "aggregate":
            check_sequence_aggregate(corpus, outs)
            if attack.combine and all(o.answered for o in outs):
                values = [float(o.rows[0][-1] or 0) if o.rows else 0.0 for o in outs]
                est = attack.combine(values)
                assert not is_forbidden(est, corpus.forbidden), \
                    f"ESCAPE by tracker: {[o.sql for o in outs]} combine to {est}"
        elif not attack.combine:
            check_sequence_dp(outs, attack.differ)
    if attack.decoy is not None:
        decoy = ask(corpus.consumer, attack.decoy.replace("{T}", corpus.table(mode)))
        check_one(corpus, mode, decoy, attack.deterministic)
        check_decoy(corpus, mode, outs[0], decoy)


# -- 6: deleting one's own table between the two queries of a pair -----------------------------

@pytest.mark.parametrize("mode", MODES)
def test_delete_own_table_between_queries(corpus: Corpus, mode: str) -> None:
    delete_own_table_between_queries(corpus, mode)


def delete_own_table_between_queries(corpus: Corpus, mode: str) -> None:
    me = Client(corpus.server.url, corpus.consumer.headers["Authorization"].split()[1])
    ids = [f"P{i:04d}" for i in range(60)]
    assert V1 in ids
    sql = (f"SELECT COUNT(*) AS n, SUM(t.kwh) AS v FROM {corpus.table(mode)} t "
           "JOIN mine.grp g ON t.pid = g.pid")
    outs = []
    name = f"grp_{mode}"
    for members in (ids, [i for i in ids if i != V1]):
        me.upload_private_table(name, parquet(pa.table({"pid": members})), format="parquet")
        out = ask(corpus.consumer, sql.replace("mine.grp", f"mine.{name}"))
        check_one(corpus, mode, out, True)
        outs.append(out)
        me.delete_private_table(name)
    me.close()
    if mode == "aggregate":
        check_sequence_aggregate(corpus, outs)
    else:
        check_sequence_dp(outs, 1)


# -- 7: nesting and size ------------------------------------------------------------------------

def nested(depth: int, open_: str, close: str, inner: str) -> str:
    return open_ * depth + inner + close * depth


WHERE = "SELECT COUNT(*) AS v FROM {T} WHERE "
NESTING = [
    ("parentheses-5000", WHERE + nested(5000, "(", ")", "region = '杭州'")),
    ("not-3000", WHERE + "NOT " * 3001 + "region = '杭州'"),
    ("functions-2000", WHERE + nested(2000, "abs(", ")", "cohort") + " > 0"),
    ("arithmetic-3000", WHERE + nested(3000, "(1 + ", ")", "cohort") + " > 0"),
    ("case-1000", WHERE + nested(1000, "CASE WHEN true THEN ", " END", "region") + " = '杭州'"),
    ("subqueries-500", "SELECT COUNT(*) AS v FROM {T} WHERE cohort > "
     + nested(500, "(SELECT ", ")", "1")),
    ("unbalanced-5000", WHERE + "(" * 5000 + "region = '杭州'"),
    ("parentheses-200", WHERE + nested(200, "(", ")", "region = '杭州'")),
    ("or-chain-20000-tokens", WHERE + " OR ".join(["cohort = 1"] * 4000)),
    ("in-list-120k-chars", WHERE + "cohort IN (" + ", ".join(["2001"] * 20000) + ")"),
    ("length-100001", "SELECT COUNT(*) AS v FROM {T} WHERE region = '杭州'"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "sql"), NESTING, ids=[n for n, _ in NESTING])
def test_nesting_and_size(corpus: Corpus, mode: str, name: str, sql: str) -> None:
    nesting_and_size(corpus, mode, name, sql)


def nesting_and_size(corpus: Corpus, mode: str, name: str, sql: str) -> None:
    sql = sql.replace("{T}", corpus.table(mode))
    if name == "length-100001":
        sql = sql + " " * (100_001 - len(sql))
    out = ask(corpus.consumer, sql)
    assert not out.answered, f"{name}: answered {out.show()}"
    if name != "unbalanced-5000":
        assert (out.status, out.code) == (422, "sql_too_complex"), out.show()
    # the server is still well: a legitimate query answers
    ok = ask(corpus.consumer, f"SELECT region, COUNT(*) AS n FROM {corpus.table(mode)} "
                              "GROUP BY region")
    assert ok.answered, ok.show()


def test_shallow_nesting_still_answers(corpus: Corpus) -> None:
    sql = (f"SELECT COUNT(*) AS v FROM {corpus.table('aggregate')} WHERE "
           + nested(8, "(", ")", "region = '杭州'"))
    out = ask(corpus.consumer, sql)
    assert out.answered, out.show()
    check_aggregate(corpus, out)


# -- legitimate aggregates still answer ---------------------------------------------------------

LEGIT = [
    "SELECT region, SUM(kwh) AS s, AVG(kwh) AS a, COUNT(*) AS n FROM {T} GROUP BY region",
    "SELECT region, sector, cohort, month, COUNT(DISTINCT pid) AS ids, SUM(visits) AS v "
    "FROM {T} GROUP BY region, sector, cohort, month",
    "SELECT sector, SUM(visits) AS v FROM {T} WHERE month IN (1, 2) GROUP BY sector",
    "SELECT COUNT(*) AS n, SUM(kwh) AS s FROM {T}",
    "SELECT MIN(cohort) AS lo, MAX(cohort) AS hi, MIN(region) AS r FROM {T}",
    "SELECT region, COUNT(*) AS n FROM {T} WHERE cohort >= 2002 GROUP BY region "
    "ORDER BY region",
    "SELECT region, sector, COUNT(*) AS n FROM {T} GROUP BY region, sector "
    "HAVING COUNT(*) > 100",
    "SELECT concat(upper(sector), '-', month) AS k, AVG(visits) AS v FROM {T} GROUP BY 1",
    # the cell of exactly k identities is in; the one of k − 1 is out
    "SELECT region, SUM(kwh) AS s, COUNT(*) AS n FROM {T} WHERE cohort = 2003 "
    "GROUP BY region",
    "SELECT month, SUM(kwh) AS s FROM {T} WHERE region = '杭州' AND sector = '制造' "
    "GROUP BY month",
    "SELECT cohort, AVG(kwh) AS a FROM {T} WHERE region IN ('宁波', '温州') GROUP BY cohort",
    "SELECT region, sector, cohort, month, COUNT(DISTINCT pid) AS ids FROM {T} "
    "WHERE month = 1 GROUP BY region, sector, cohort, month",
]


@pytest.mark.parametrize("n", range(len(LEGIT)))
def test_legitimate_aggregate_equals_duckdb_over_big_cells(corpus: Corpus, n: int) -> None:
    legitimate_aggregate(corpus, n)


def legitimate_aggregate(corpus: Corpus, n: int) -> None:
    sql = LEGIT[n].replace("{T}", corpus.table("aggregate"))
    out = ask(corpus.consumer, sql)
    assert out.answered, f"legitimate query refused: {sql} -> {out.show()}"
    truth = truth_rows(corpus, sql)
    assert truth is not None
    check_aggregate(corpus, out)
    assert len(out.rows) == len(truth) and not unmatched(out.rows, truth), \
        f"{sql}: {out.rows} is not DuckDB's answer over the cells with >= k identities " \
        f"{truth}"
    if "ORDER BY" in sql:
        assert [r[0] for r in out.rows] == [r[0] for r in truth]


def test_dp_answers_fall_within_their_margin(corpus: Corpus) -> None:
    """≥ 90 % of at least 200 released counts and sums lie within their stated 95 % margin
    of the truth with contributions bounded (one row per identity: month = 1)."""
    t = corpus.table("dp")
    con = duckdb.connect()
    con.register("d", people())
    truth = {(r, s): (n, total) for r, s, n, total in con.execute(
        f"SELECT region, sector, COUNT(*), SUM(LEAST(GREATEST(kwh, 0), {KWH_UPPER})) "
        "FROM d WHERE month = 1 GROUP BY region, sector").fetchall()}
    trials = within = 0
    for _ in range(30):
        out = ask(corpus.consumer, f"SELECT region, sector, COUNT(*) AS n, SUM(kwh) AS s "
                                   f"FROM {t} WHERE month = 1 GROUP BY region, sector",
                  epsilon=DP_MAX_EPS, check_record=False)
        assert out.answered, out.show()
        check_dp(corpus, out)
        margins = {o["name"]: o["margin_95"] for o in out.dp["outputs"]}  # type: ignore[index]
        for region, sector, n, s in out.rows:
            tn, ts = truth[(region, sector)]
            trials += 2
            within += (abs(n - tn) <= margins["n"]) + (abs(s - ts) <= margins["s"])
        if trials >= 200:
            break
    assert trials >= 200, trials
    assert within / trials >= 0.9, (within, trials)


# -- DP: parameters, estimates, the budget ------------------------------------------------------

DP_PARAMS: list[tuple[str, dict[str, Any]]] = [
    ("epsilon-over-max", {"epsilon": 1000}),
    ("epsilon-huge", {"epsilon": 1e308}),
    ("epsilon-zero", {"epsilon": 0}),
    ("epsilon-negative", {"epsilon": -1}),
    ("epsilon-string", {"epsilon": "lots"}),
    ("accuracy-too-tight", {"accuracy": {"margin": 1e-9, "confidence": 0.95}}),
    ("accuracy-certain", {"accuracy": {"margin": 1, "confidence": 1.0}}),
    ("accuracy-negative", {"accuracy": {"margin": -5, "confidence": 0.95}}),
    ("accuracy-and-epsilon", {"epsilon": 1, "accuracy": {"margin": 10, "confidence": 0.95}}),
]


@pytest.mark.parametrize(("name", "body"), DP_PARAMS, ids=[n for n, _ in DP_PARAMS])
def test_dp_parameters_cannot_buy_precision(corpus: Corpus, name: str,
                                            body: dict[str, Any]) -> None:
    sql = f"SELECT SUM(kwh) AS v, COUNT(*) AS n FROM {corpus.table('dp')} WHERE region = '杭州'"
    out = ask(corpus.consumer, sql, check_record=False, **body)
    if out.answered:
        check_dp(corpus, out)          # ε within the cap, margins honest for that ε
    else:
        assert out.status in (400, 403, 422), out.show()


def test_estimate_is_data_independent_and_free(corpus: Corpus) -> None:
    t = corpus.table("dp")
    before = api(corpus.consumer, "GET", f"/entitlements/{corpus.entitlements[DP]}/"
                                         "privacy-budget")
    answers = []
    for x in ("9000000", "99000000"):
        r = corpus.consumer.post("/sandbox/estimate", json={
            "sql": f"SELECT SUM(kwh) AS v FROM {t} WHERE kwh > {x}", "epsilon": 1.0})
        assert r.status_code < 500, r.text[:300]
        answers.append((r.status_code, r.json()))
    assert answers[0][0] in (200, 201), f"no estimate: {answers[0]}"
    assert answers[0][0] == answers[1][0]
    a, b = (dict(j) for _, j in answers)
    for j in (a, b):
        j.pop("sql", None)
    assert a == b, f"ESCAPE: the estimate depends on the data: {a} vs {b}"
    r = corpus.consumer.post("/sandbox/estimate", json={
        "sql": f"SELECT SUM(kwh) AS v FROM {t}", "accuracy": {"margin": 1e-9,
                                                               "confidence": 0.95}})
    assert r.status_code < 500, r.text[:300]
    if r.status_code < 300:
        assert r.json().get("epsilon", 0) <= DP_MAX_EPS + 1e-9 or \
            r.json().get("feasible") is False, r.json()
    after = api(corpus.consumer, "GET", f"/entitlements/{corpus.entitlements[DP]}/"
                                        "privacy-budget")
    assert after["spent_epsilon"] == before["spent_epsilon"], "an estimate spent budget"


def test_averaging_repeated_answers_is_stopped_by_the_budget(corpus: Corpus) -> None:
    averaging_is_stopped_by_the_budget(corpus)


def averaging_is_stopped_by_the_budget(corpus: Corpus) -> None:
    """The same noisy query asked again and again: each answer costs ε, and once the
    entitlement's budget is spent no more answers come, so averaging cannot beat the noise
    beyond what the budget allows."""
    budget = 3.0
    other = corpus.orgs.new(["consumer"], "合谋机构")
    ent = api(corpus.provider, "POST", "/entitlements", json={
        "consumer_org_id": other.org_id, "product": DP,  # type: ignore[attr-defined]
        "modes": ["sandbox"], "quotas": {}})
    api(corpus.provider, "PUT", f"/entitlements/{ent['id']}/privacy-budget",
        json={"epsilon": budget})
    http = corpus.http(other.token or "")
    sql = (f"SELECT SUM(kwh) AS v FROM {corpus.table('dp')} WHERE region = '杭州' "
           "AND sector = '服务'")
    answered, seen, spent = [], set(), 0.0
    for _ in range(8):
        out = ask(http, sql, epsilon=0.5)
        if not out.answered:
            assert out.status == 403 and out.code == "privacy_budget_exhausted", out.show()
            continue
        check_dp(corpus, out)
        v = out.rows[0][0]
        if v not in seen:                       # a fresh noisy answer must be paid for
            spent += out.dp["epsilon"]          # type: ignore[index]
        seen.add(v)
        answered.append(out)
    b = api(http, "GET", f"/entitlements/{ent['id']}/privacy-budget")
    assert spent <= budget + 1e-9, f"ESCAPE: {len(seen)} fresh answers cost {spent} > {budget}"
    assert b["spent_epsilon"] <= budget + 1e-9 and b["remaining_epsilon"] >= -1e-9, b
    assert len(answered) <= budget / 0.5
    http.close()


def test_concurrent_queries_cannot_overspend(corpus: Corpus) -> None:
    concurrent_queries_cannot_overspend(corpus)


def concurrent_queries_cannot_overspend(corpus: Corpus) -> None:
    """Many colluding requests at once against a budget for four answers: at most four
    noisy answers come back, the rest are refused with the budget's code, never a 5xx."""
    budget, eps = 2.0, 0.5
    other = corpus.orgs.new(["consumer"], "并发机构")
    ent = api(corpus.provider, "POST", "/entitlements", json={
        "consumer_org_id": other.org_id, "product": DP,  # type: ignore[attr-defined]
        "modes": ["sandbox"], "quotas": {}})
    api(corpus.provider, "PUT", f"/entitlements/{ent['id']}/privacy-budget",
        json={"epsilon": budget})
    sql = f"SELECT COUNT(*) AS v FROM {corpus.table('dp')} WHERE region = '杭州'"

    def one(_: int) -> Outcome:
        with corpus.http(other.token or "") as http:
            return ask(http, sql, epsilon=eps)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outs = list(pool.map(one, range(12)))
    answered = [o for o in outs if o.answered]
    for o in outs:
        if not o.answered:
            assert o.status in (403, 409, 429), o.show()
    assert len(answered) <= budget / eps, f"ESCAPE: {len(answered)} answers at ε={eps} " \
                                          f"from a budget of {budget}"
    with corpus.http(other.token or "") as http:
        b = api(http, "GET", f"/entitlements/{ent['id']}/privacy-budget")
    assert b["spent_epsilon"] <= budget + 1e-9, b
    assert b["spent_epsilon"] == pytest.approx(eps * len(answered)), (b, len(answered))


def test_dp_across_versions_differs_by_one_bounded_identity(corpus: Corpus) -> None:
    """Differencing over time: the provider publishes a version where one identity's value
    changed (V1's outlier row becomes ordinary). Under dp the two answers differ by no more
    than that identity's bounded contribution plus the noise. (Under the aggregate rule this
    is a documented limitation, docs/sandbox-threat-model.md, so it is not asserted here.)"""
    from tests.sandbox.corpus_world import rules

    slug = f"corpus-ver-{corpus.backend[:2]}"
    data = people()
    prov = corpus.orgs.new(["provider"], "版本机构")
    http = corpus.http(prov.token or "")
    prov.create_product(slug, "版本差分")
    prov.create_table(slug, TABLE)
    prov.ingest(slug, TABLE, parquet(data), format="parquet")
    api(http, "PUT", f"/products/{slug}/tables/{TABLE}/analysis-rules", json=rules("dp"))
    ent = api(http, "POST", "/entitlements", json={
        "consumer_org_id": corpus.consumer_org, "product": slug, "modes": ["sandbox"],
        "quotas": {}})
    api(http, "PUT", f"/entitlements/{ent['id']}/privacy-budget", json={"epsilon": 10})
    sql = f'SELECT SUM(kwh) AS v, COUNT(*) AS n FROM "{slug}".{TABLE} WHERE region = \'杭州\''
    first = ask(corpus.consumer, sql)
    changed = pa.Table.from_pylist([dict(r, kwh=1500.5) if r["pid"] == V1 and r["month"] == 2
                                    else r for r in data.to_pylist()], schema=data.schema)
    prov.ingest(slug, TABLE, parquet(changed), format="parquet")
    second = ask(corpus.consumer, sql)
    for out in (first, second):
        check_one(corpus, "dp", out, True)
    # bounding picks rows at random per version: every identity of the region may move
    check_sequence_dp([first, second], 1 + 110)
    if first.answered and second.answered:
        assert abs(first.rows[0][0] - second.rows[0][0]) < V1_KWH / 10, \
            f"ESCAPE: the versions' answers differ by about V1's raw value: {first.rows} " \
            f"vs {second.rows}"
    http.close()


def test_refusals_are_on_record_never_as_successes(corpus: Corpus) -> None:
    refusals_are_on_record(corpus)


def refusals_are_on_record(corpus: Corpus) -> None:
    t = corpus.table("aggregate")
    ask(corpus.consumer, f"SELECT pid, COUNT(*) FROM {t} GROUP BY pid")
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = api(corpus.consumer, "GET", "/sandbox/queries",
                   params={"limit": 100, **({"page_token": token} if token else {})})
        items.extend(page["items"])
        token = page.get("next_page_token")
        if not token or len(items) > 5000:
            break
    assert any(i["status"] == "refused" for i in items)
    for i in items:
        if i["error_code"]:
            assert i["status"] in ("refused", "failed"), i
            assert i["result_sha256"] is None, i
        else:
            assert i["status"] == "succeeded", i


def test_the_world_is_as_described() -> None:
    """The data: victims where the checks expect them (guards the corpus itself)."""
    data = people()
    rows = data.to_pylist()
    v1 = [r for r in rows if r["pid"] == V1]
    assert max(r["kwh"] for r in v1) == V1_KWH
    assert sum(r["kwh"] for r in rows if r["pid"] != V1) < V1_KWH
    assert len({r["pid"] for r in rows if r["cohort"] == 1937}) == 1
    assert L == 1 and AGG != DP and TABLE == "people"


# -- dp: nothing may be computed on the exact aggregates before the noise ----------------------

def _exact_clamped_sums() -> tuple[int, float]:
    con = duckdb.connect()
    con.register("d", people())
    total, hz = con.execute(
        f"SELECT CAST(SUM(LEAST(GREATEST(kwh, 0), {KWH_UPPER})) AS BIGINT), "
        f"SUM(LEAST(GREATEST(kwh, 0), {KWH_UPPER})) FILTER (WHERE region = '杭州') "
        "FROM d WHERE month = 1").fetchone()  # type: ignore[misc]
    return int(total), float(hz)


def test_dp_failure_does_not_depend_on_the_exact_sum(corpus: Corpus) -> None:
    """1 // (SUM − s) fails only if SUM is exactly s: evaluated on the exact sum it is an
    oracle that binary-searches the exact value past the noise (a noisy sum hits s with
    probability ~1e-4). Refusing it, or evaluating it on the noisy sum, both pass."""
    exact, _ = _exact_clamped_sums()
    t = corpus.table("dp")
    sql = "SELECT 1 // (CAST(SUM(kwh) AS BIGINT) - {x}) AS v FROM " + t + " WHERE month = 1"
    for _ in range(2):
        real = ask(corpus.consumer, sql.format(x=exact))
        decoy = ask(corpus.consumer, sql.format(x=exact + 10_000_000))
        for out in (real, decoy):
            check_one(corpus, "dp", out, True)
        assert real.kind() == decoy.kind(), \
            f"ESCAPE (oracle on the exact sum): {real.sql!r} -> {real.show()} but " \
            f"{decoy.sql!r} -> {decoy.show()}"


def test_dp_having_does_not_see_exact_values(corpus: Corpus) -> None:
    """HAVING SUM(kwh) > s just below and just above the exact sum of one group: on noisy
    values the two thresholds behave alike (each side ~50 %); on exact values the group is
    always in for the first and always out for the second. Eight runs in a row of that
    split happen by chance with probability 4^-8."""
    _, hz = _exact_clamped_sums()
    t = corpus.table("dp")
    sql = ("SELECT region, COUNT(*) AS n FROM " + t + " WHERE month = 1 GROUP BY region "
           "HAVING SUM(kwh) > {x}")
    split = 0
    for _ in range(8):
        below = ask(corpus.consumer, sql.format(x=hz - 0.001))
        above = ask(corpus.consumer, sql.format(x=hz + 0.001))
        for out in (below, above):
            check_one(corpus, "dp", out, True)
        if not (below.answered and above.answered):
            assert below.kind() == above.kind(), (below.show(), above.show())
            return
        has = [any(r[0] == "杭州" for r in o.rows) for o in (below, above)]
        split += has == [True, False]
    assert split < 8, "ESCAPE: HAVING is evaluated on the exact sums (binary search past " \
                      "the noise)"
