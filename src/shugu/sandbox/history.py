"""The differencing defence. Two aggregate answers over nearly the same rows can be
subtracted to learn about the few identities in between (N vs N-1). For every new query we
look up the caller's recent successful queries with the same fingerprint (same tables,
joins, grouping and identity columns, at the same table versions; the consumer's own
tables all count as "mine") and compute, per group, the identities read by one query but
not the other. A group whose difference holds at least one and fewer than k identities
means the pair would reveal those few: the new query is refused.

What this does not catch (see docs/sandbox.md): pairs whose shapes differ (another grouping
or join), pairs older than the history window, pairs across a new table version, pairs whose
earlier query read an own table that has since been deleted or replaced (the earlier
identity sets are recomputed, not stored), and several queries that only together isolate
someone.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.errors import ShuguError
from shugu.sandbox.engine import EngineSession
from shugu.sandbox.gate import Catalog, Gated, check
from shugu.sandbox.gate.errors import refuse
from shugu.sandbox.models import SandboxQuery


def candidates(session: Session, org_id: int, gated: Gated, versions: dict[str, int],
               catalog: Catalog, window: int) -> list[tuple[SandboxQuery, Gated]]:
    """Earlier queries to compare with, re-checked against today's catalog so that their
    tables are mapped to this session's views."""
    if window <= 0:
        return []
    rows = session.scalars(
        select(SandboxQuery).where(SandboxQuery.consumer_org_id == org_id,
                                   SandboxQuery.fingerprint == gated.fingerprint,
                                   SandboxQuery.status == "succeeded")
        .order_by(SandboxQuery.id.desc()).limit(window)).all()
    out = []
    for q in rows:
        read = {**(q.table_versions or {}), **((q.shape or {}).get("private") or {})}
        if any(versions.get(ref) != v for ref, v in read.items()):
            continue  # other data now: the earlier answer cannot be recomputed
        try:
            before = check(q.sql, catalog)
        except ShuguError:
            continue  # its tables or rules are gone: it cannot be recomputed
        if before.fingerprint == gated.fingerprint:
            out.append((q, before))
    return out


def defend(session: EngineSession, gated: Gated,
           earlier: list[tuple[SandboxQuery, Gated]]) -> None:
    mine = gated.identity_sets()
    for q, before in earlier:
        theirs = before.identity_sets()
        if theirs == mine:
            continue
        groups = [f'"g{i}"' for i in range(len(gated.groups))]
        having = " OR ".join(f'COUNT(DISTINCT "i{i}") BETWEEN 1 AND {t.k - 1}'
                             for i, t in enumerate(gated.thresholds))
        sql = (f"WITH p AS ({theirs}), q AS ({mine}), "
               "d AS ((SELECT * FROM p EXCEPT SELECT * FROM q) "
               "UNION ALL (SELECT * FROM q EXCEPT SELECT * FROM p)) "
               f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM d "
               f"{'GROUP BY ' + ', '.join(groups) if groups else ''} HAVING {having}) AS x")
        n = int(session.query(sql, max_rows=1).table.column("n")[0].as_py() or 0)
        if n:
            raise refuse("differencing_suspected",
                         f"together with your query {q.id} this query would single out fewer "
                         f"than the minimum number of identities in {n} group(s)",
                         clause="WHERE", rule="differencing", earlier_query_id=q.id,
                         groups=n)
