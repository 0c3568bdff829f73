"""Catalog search: an inverted index in `search_terms`, the same SQL on SQLite and PostgreSQL.

Text is NFKC-normalised (full-width Ｅ１ becomes e1) and case-folded, then cut into runs:
CJK runs are indexed as bigrams (plus unigrams, except in descriptions), other runs of
letters and digits as whole words. A query is cut the same way and every part of it must
match (AND): a CJK run of two or more characters needs all its bigrams (so it matches much
like a substring), a single CJK character its unigram, a Latin word of three or more
characters matches as a prefix ("electric" finds "electricity"), a shorter one ("5g")
exactly. Score: the sum over the query's parts of the weight of the fields they occur in.

A query is planned here rather than left to the database, because SQLite keeps no
statistics: one round trip counts (up to a cap) the index entries of each part of the query
and the products of each filter; the candidates come from the smallest, merged by one
GROUP BY with the parts of similar size; each candidate is then checked for the remaining
parts and filters through indexes. Work is bounded: a query whose every part and filter is
common ranks the best entries of its rarest part only and reports no total. Only products
that can be shown are indexed (see `index_product`), so an unfiltered search reads the
products table only for the page it returns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.orm import Session, aliased

from shugu.catalog.models import Product, ProductTag, SearchTerm
from shugu.catalog.schemas import ProductHit
from shugu.errors import InvalidInput
from shugu.identity.models import Organization
from shugu.pagination import Page, check_limit, decode_token, next_token

# Field weights: a hit in the title outranks one in the tags, then category, then description.
TITLE, TAGS, CATEGORY, DESCRIPTION = 10, 5, 3, 1
SEARCHABLE_STATUS = "listed"  # shugu.review moves products through their listing life
TERM_CHARS = 100  # search_terms.term is VARCHAR(100)
MAX_QUERY_CHARS = 200
MAX_CLAUSES = 32
EXACT_WORD_CHARS = 2  # "5g", "ai": as prefixes they would match a good part of the dictionary

# The planner's budget, from SQLite over 100,000 products (10 million index entries): reading
# an entry in index order and grouping it costs some 0.3 µs, checking a candidate for one
# more part or filter some 2 µs. A query groups at most MERGE_ENTRIES entries and makes at
# most CHECKS checks, which keeps it within some 20-40 ms (bench/search.py).
MERGE_ENTRIES = 50_000
MERGE_RATIO = 4  # group a part with the rarest if it has fewer than this times its entries
CHECKS = 8_000
FILTER_RATIO = 4  # start from a filter's products if it has this many times fewer

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
# A CJK run, or a run of other letters and digits (which must not swallow a following CJK run).
_RUNS = re.compile(f"([{_CJK}]+)|((?:(?![{_CJK}])[^\\W_])+)")


def runs(text: str) -> Iterator[tuple[bool, str]]:
    """(is_cjk, run) for each searchable run of `text`, normalised."""
    for match in _RUNS.finditer(unicodedata.normalize("NFKC", text).casefold()):
        yield match.group(1) is not None, match.group(0)


# -- indexing ---------------------------------------------------------------------------------

def _field_terms(texts: Iterable[str | None], *, unigrams: bool) -> set[str]:
    terms: set[str] = set()
    for text in texts:
        if not text:
            continue
        for cjk, run in runs(text):
            if not cjk:
                terms.add(run[:TERM_CHARS])
            elif len(run) == 1:
                terms.add(run)
            else:
                terms.update(run[i:i + 2] for i in range(len(run) - 1))
                if unigrams:
                    terms.update(run)
    return terms


def product_terms(product: Product) -> dict[str, int]:
    """Index terms of a product with their weights (the sum over the fields they occur in).

    Descriptions get no CJK unigrams: single characters of long prose would multiply the
    index for the rare one-character query, which still finds titles, tags and categories.
    """
    weights: dict[str, int] = {}
    fields = (
        (TITLE, [product.title_zh, product.title_en], True),
        (TAGS, list(product.tags or []), True),
        (CATEGORY, [product.category], True),
        (DESCRIPTION, [product.description_zh, product.description_en], False),
    )
    for weight, texts, unigrams in fields:
        for term in _field_terms(texts, unigrams=unigrams):
            weights[term] = weights.get(term, 0) + weight
    return weights


def index_product(session: Session, product: Product) -> None:
    """(Re)build the product's index entries.

    Call after any change to a product's text or status: products that may not be shown
    (status other than listed) are left out of the index, which is what keeps them out of
    search results without a join on every candidate.
    """
    session.execute(delete(SearchTerm).where(SearchTerm.product_id == product.id))
    if product.status != SEARCHABLE_STATUS:
        return
    rows = [{"term": t, "product_id": product.id, "weight": w}
            for t, w in product_terms(product).items()]
    if rows:
        session.execute(insert(SearchTerm), rows)


# -- queries ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    """One required part of a query: the term `lo`, or (prefix) every term in [lo, hi)."""

    lo: str
    hi: str | None = None

    def on(self, term: ColumnElement[str]) -> ColumnElement[bool]:
        return term == self.lo if self.hi is None else and_(term >= self.lo, term < self.hi)


def parse_query(q: str) -> list[Clause]:
    """The clauses of a query, all required; [] if it holds nothing searchable."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is longer than {MAX_QUERY_CHARS} characters",
                           code="invalid_query")
    clauses = _clauses(q, overlapping=True)
    if len(clauses) > MAX_CLAUSES:
        # Long Chinese text: bigrams that tile each run still require every character.
        clauses = _clauses(q, overlapping=False)
    if len(clauses) > MAX_CLAUSES:
        raise InvalidInput(f"q has more than {MAX_CLAUSES} words", code="invalid_query")
    return clauses


def _clauses(q: str, *, overlapping: bool) -> list[Clause]:
    found: dict[Clause, None] = {}  # ordered set
    for cjk, run in runs(q):
        run = run[:TERM_CHARS]
        if cjk and len(run) > 1:
            last = len(run) - 2
            starts = range(last + 1) if overlapping else sorted({*range(0, last, 2), last})
            found.update((Clause(run[i:i + 2]), None) for i in starts)
        elif cjk or len(run) <= EXACT_WORD_CHARS:
            found[Clause(run)] = None
        else:
            found[Clause(run, run[:-1] + chr(ord(run[-1]) + 1))] = None
    return list(found)


@dataclass(frozen=True)
class Filters:
    provider_org_id: int | None
    category: str | None
    tag: str | None


def search(
    session: Session, *, q: str, provider_org_id: int | None, category: str | None,
    tag: str | None, limit: int | None, page_token: str | None,
) -> Page[ProductHit]:
    """Products matching every word of `q` (all products if q is blank), best first."""
    limit, offset = check_limit(limit), decode_token(page_token)
    filters = Filters(provider_org_id, category, tag)
    clauses = parse_query(q)
    if not q.strip():
        ranked, total = _browse(session, filters, limit, offset)
    elif not clauses:  # only punctuation or symbols: nothing can match
        ranked, total = [], 0
    else:
        ranked, total = _search(session, clauses, filters, limit, offset)
    hits = _hits(session, ranked[:limit])
    return Page[ProductHit](items=hits, next_page_token=next_token(offset, limit, len(ranked)),
                            total=total)


Ranked = list[tuple[int, int]]  # (product id, score), best first


def _product_filters(filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.provider_org_id is not None:
        where.append(Product.provider_org_id == filters.provider_org_id)
    if filters.category is not None:
        where.append(Product.category == filters.category)
    # Given a provider or category, keep SQLite (which has no statistics) off the status
    # index by wrapping the column: most products are listed, it would read them all.
    status = func.coalesce(Product.status, "") if where else Product.status
    return [status == SEARCHABLE_STATUS, *where]


def _browse(session: Session, filters: Filters, limit: int, offset: int) -> tuple[Ranked, int]:
    """Blank query: every searchable product that passes the filters, newest first."""
    if filters.tag is None:
        ids = select(Product.id.label("pid")).where(*_product_filters(filters))
    else:  # the (tag, product_id) index lists the tag's products in order
        ids = select(ProductTag.product_id.label("pid")).where(
            ProductTag.tag == filters.tag,
            exists().where(Product.id == ProductTag.product_id, *_product_filters(filters)))
    found = ids.subquery()
    page = session.scalars(select(found.c.pid).order_by(found.c.pid.desc())
                           .limit(limit + 1).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(found))
    return [(i, 0) for i in page], total or 0


def _capped_count(stmt: Select[tuple[int]]) -> ColumnElement[int]:
    """How many rows `stmt` has, counting no further than MERGE_ENTRIES + 1."""
    return select(func.count()).select_from(
        stmt.limit(MERGE_ENTRIES + 1).subquery()).scalar_subquery()


@dataclass(frozen=True)
class _Part:
    """A clause and (up to the cap) how many index entries it matches."""

    clause: Clause
    entries: int


@dataclass(frozen=True)
class _Sizes:
    parts: list[_Part]  # rarest first
    tag: int | None  # products with the tag filter
    products: int | None  # products passing the provider or category filter, the fewer


def _sizes(session: Session, clauses: list[Clause], filters: Filters) -> _Sizes | None:
    """Sizes of every clause and filter in one round trip (a prefix that covers a single
    term becomes that term); None if some clause matches nothing."""
    one = literal_column("1")
    columns: list[ColumnElement[object]] = []
    for c in clauses:
        columns.append(_capped_count(select(one).where(c.on(SearchTerm.term))))
        if c.hi is not None:
            columns.append(select(func.min(SearchTerm.term)).where(
                c.on(SearchTerm.term)).scalar_subquery())
            columns.append(select(func.max(SearchTerm.term)).where(
                c.on(SearchTerm.term)).scalar_subquery())
    if filters.tag is not None:
        columns.append(_capped_count(select(one).where(ProductTag.tag == filters.tag)))
    for column, value in ((Product.provider_org_id, filters.provider_org_id),
                          (Product.category, filters.category)):
        if value is not None:
            columns.append(_capped_count(select(one).where(column == value)))
    values = iter(session.execute(select(*columns)).one())

    parts: list[_Part] = []
    for c in clauses:
        entries = next(values)
        if c.hi is not None:
            first, last = next(values), next(values)
            if first is not None and first == last:
                c = Clause(first)  # a single term: its entries are in impact order
        if not entries:
            return None
        parts.append(_Part(c, entries))
    parts.sort(key=lambda p: (p.entries, p.clause.hi is not None))
    tag = next(values) if filters.tag is not None else None
    products = min(values, default=None)  # the database picks the better index itself
    return _Sizes(parts, tag, products)


@dataclass
class _Plan:
    """Candidates (pid, w) from one source, to be checked for `probes` and the filters."""

    candidates: Select[tuple[int, int]]
    probes: list[Clause]
    source: str  # "terms", "tag" or "products"
    truncated: bool  # only the best of the source were taken: rank them, count nothing


def _plan(sizes: _Sizes, filters: Filters) -> _Plan:
    parts = sizes.parts
    rarest = parts[0]
    tag_check = int(filters.tag is not None)
    product_check = int(filters.provider_org_id is not None or filters.category is not None)
    filter_sizes = [n for n in (sizes.tag, sizes.products) if n is not None]
    if filter_sizes and min(filter_sizes) * FILTER_RATIO < rarest.entries:
        # e.g. one provider's products, each checked for every part of the query
        size = min(filter_sizes)
        source = "tag" if size == sizes.tag else "products"
        other_filter = product_check if source == "tag" else tag_check
        room = CHECKS // (len(parts) + other_filter)
        return _Plan(_filtered_products(source, filters, room if size > room else None),
                     [p.clause for p in parts], source, truncated=size > room)

    merged = [rarest]
    if rarest.clause.hi is None:
        for part in parts[1:]:
            if (part.clause.hi is None and part.entries < MERGE_RATIO * rarest.entries
                    and sum(p.entries for p in merged) + part.entries <= MERGE_ENTRIES):
                merged.append(part)
    probes = [p.clause for p in parts if p not in merged]
    lookups = len(probes) + product_check + tag_check
    if rarest.entries > (CHECKS // lookups if lookups else MERGE_ENTRIES):
        # Every part is common: rank the best entries of the rarest, checked for the rest.
        room = CHECKS // max(1, len(parts) - 1 + product_check + tag_check)
        return _Plan(_best_entries(rarest.clause, room), [p.clause for p in parts[1:]],
                     "terms", truncated=True)
    return _Plan(_merged_entries([p.clause for p in merged]), probes, "terms", truncated=False)


def _merged_entries(clauses: list[Clause]) -> Select[tuple[int, int]]:
    """Products having every clause, with the sum of their weights, by one GROUP BY."""
    pid = SearchTerm.product_id.label("pid")
    if len(clauses) == 1 and clauses[0].hi is not None:  # best of the prefix's terms
        return select(pid, func.max(SearchTerm.weight).label("w")) \
            .where(clauses[0].on(SearchTerm.term)).group_by(SearchTerm.product_id)
    if len(clauses) == 1:
        return select(pid, SearchTerm.weight.label("w")).where(SearchTerm.term == clauses[0].lo)
    # A product has each term once, so the count is the number of clauses it has.
    return select(pid, func.sum(SearchTerm.weight).label("w")) \
        .where(SearchTerm.term.in_([c.lo for c in clauses])) \
        .group_by(SearchTerm.product_id).having(func.count() == len(clauses))


def _best_entries(clause: Clause, n: int) -> Select[tuple[int, int]]:
    """n best entries of a clause: in impact order for a term; for a prefix of many terms
    simply the first n in index order, which bounds the work of a very broad prefix."""
    if clause.hi is None:
        return select(SearchTerm.product_id.label("pid"), SearchTerm.weight.label("w")) \
            .where(SearchTerm.term == clause.lo) \
            .order_by(SearchTerm.weight.desc(), SearchTerm.product_id.desc()).limit(n)
    first = select(SearchTerm.product_id, SearchTerm.weight) \
        .where(clause.on(SearchTerm.term)).limit(n).subquery()
    return select(first.c.product_id.label("pid"), func.max(first.c.weight).label("w")) \
        .group_by(first.c.product_id)


def _filtered_products(source: str, filters: Filters, newest: int | None
                       ) -> Select[tuple[int, int]]:
    """The products of a tag, or of a provider/category; only the `newest` if given."""
    pid: ColumnElement[int]
    if source == "tag":
        pid = ProductTag.product_id
        stmt = select(pid.label("pid"), literal(0).label("w")).where(
            ProductTag.tag == filters.tag)
    else:
        pid = Product.id
        stmt = select(pid.label("pid"), literal(0).label("w")).where(*_product_filters(filters))
    return stmt if newest is None else stmt.order_by(pid.desc()).limit(newest)


def _search(
    session: Session, clauses: list[Clause], filters: Filters, limit: int, offset: int
) -> tuple[Ranked, int | None]:
    unfiltered = filters == Filters(None, None, None)
    if unfiltered and len(clauses) == 1 and clauses[0].hi is None:
        return _single_term(session, clauses[0].lo, limit, offset)
    sizes = _sizes(session, clauses, filters)
    if sizes is None:
        return [], 0
    if unfiltered and len(sizes.parts) == 1 and sizes.parts[0].clause.hi is None:
        return _single_term(session, sizes.parts[0].clause.lo, limit, offset)
    plan = _plan(sizes, filters)

    candidates = plan.candidates.subquery("c")
    pid = candidates.c.pid
    score: ColumnElement[int] = candidates.c.w
    for c in plan.probes:  # NULL, and so a NULL score, when the product lacks the clause
        entry = aliased(SearchTerm)
        score = score + select(func.max(entry.weight)).where(
            entry.product_id == pid, c.on(entry.term)).scalar_subquery()
    checks: list[ColumnElement[bool]] = []
    if plan.source != "products" and (filters.provider_org_id is not None
                                      or filters.category is not None):
        checks.append(exists().where(Product.id == pid, *_product_filters(filters)))
    if plan.source != "tag" and filters.tag is not None:
        checks.append(exists().where(ProductTag.product_id == pid,
                                     ProductTag.tag == filters.tag))
    if plan.probes or checks:
        # Checks are correlated subqueries, not joins, and the scores are materialised:
        # SQLite would otherwise turn a join into a scan of a common term, or compute a
        # score twice (in WHERE and in ORDER BY).
        scored = select(pid, score.label("score")).where(*checks).cte("scored")
        if _can_materialize(session):
            scored = scored.prefix_with("MATERIALIZED")
        base = select(scored.c.pid, scored.c.score).where(scored.c.score.is_not(None))
    else:
        scored = select(pid, score.label("score")).subquery("scored")
        base = select(scored.c.pid, scored.c.score)

    page = base.order_by(scored.c.score.desc(), scored.c.pid.desc()) \
        .limit(limit + 1).offset(offset)
    if plan.truncated:
        rows = session.execute(page).all()
        return [(r.pid, r.score) for r in rows], None
    rows = session.execute(page.add_columns(func.count().over().label("total"))).all()
    if rows:
        total = rows[0].total
    else:  # past the last page: the window had no row to report on
        total = 0 if offset == 0 else session.scalar(
            select(func.count()).select_from(base.subquery()))
    return [(r.pid, r.score) for r in rows], total


def _can_materialize(session: Session) -> bool:
    """AS MATERIALIZED came with SQLite 3.35 and PostgreSQL 12; older ones merely run slower."""
    dialect = session.get_bind().dialect
    needed = (3, 35) if dialect.name == "sqlite" else (12,)
    return (dialect.server_version_info or (0,)) >= needed


def _single_term(session: Session, term: str, limit: int, offset: int) -> tuple[Ranked, int]:
    """One exact term, no filters: the page is a slice of the index in impact order."""
    rows = session.execute(
        select(SearchTerm.product_id, SearchTerm.weight).where(SearchTerm.term == term)
        .order_by(SearchTerm.weight.desc(), SearchTerm.product_id.desc())
        .limit(limit + 1).offset(offset)).all()
    total = session.scalar(select(func.count()).where(SearchTerm.term == term))
    return [(r.product_id, r.weight) for r in rows], total or 0


def _hits(session: Session, ranked: Sequence[tuple[int, int]]) -> list[ProductHit]:
    if not ranked:
        return []
    rows = session.execute(
        select(Product.id, Product.slug, Product.title_zh, Product.title_en,
               Product.provider_org_id, Product.category, Product.tags, Product.status,
               Organization.name.label("provider_name"))
        .join(Organization, Organization.id == Product.provider_org_id)
        .where(Product.id.in_([pid for pid, _ in ranked]))).all()
    found = {r.id: r for r in rows}
    hits = []
    for pid, score in ranked:
        row = found.get(pid)
        # An index entry that outlived a status change must still not show the product.
        if row is None or row.status != SEARCHABLE_STATUS:
            continue
        hits.append(ProductHit(slug=row.slug, title_zh=row.title_zh, title_en=row.title_en,
                               provider_org_id=row.provider_org_id,
                               provider_name=row.provider_name, category=row.category,
                               tags=list(row.tags or []), score=score))
    return hits
