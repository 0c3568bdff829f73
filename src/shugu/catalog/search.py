"""Catalog search: an inverted index in `search_terms`, the same SQL on SQLite and PostgreSQL.

Text is NFKC-normalised (full-width Ｅ１ becomes e1) and case-folded, then cut into runs:
CJK runs are indexed as bigrams (and as unigrams where single characters are worth finding),
other letter/digit runs as whole words. A query is cut the same way and every part of it
must match (AND): a CJK run of two or more characters needs all its bigrams, a single CJK
character its unigram, and a Latin word matches as a prefix ("electric" finds
"electricity").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from shugu.catalog.models import Product, SearchTerm
from shugu.catalog.schemas import ProductHit
from shugu.pagination import Page

# Field weights: a hit in the title outranks one in the tags, then category, then description.
TITLE, TAGS, CATEGORY, DESCRIPTION = 10, 5, 3, 1
TERM_CHARS = 100  # search_terms.term is VARCHAR(100)

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
# A CJK run, or a run of other letters and digits (which must not swallow a following CJK run).
_RUNS = re.compile(f"([{_CJK}]+)|((?:(?![{_CJK}])[^\\W_])+)")


def runs(text: str) -> Iterator[tuple[bool, str]]:
    """(is_cjk, run) for each searchable run of `text`, normalised."""
    for match in _RUNS.finditer(unicodedata.normalize("NFKC", text).casefold()):
        yield match.group(1) is not None, match.group(0)


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
    """(Re)build the product's index entries; call after any change to its searchable text."""
    session.execute(delete(SearchTerm).where(SearchTerm.product_id == product.id))
    rows = [{"term": t, "product_id": product.id, "weight": w}
            for t, w in product_terms(product).items()]
    if rows:
        session.execute(insert(SearchTerm), rows)


def search(
    session: Session, *, q: str, provider_org_id: int | None, category: str | None,
    tag: str | None, limit: int | None, page_token: str | None,
) -> Page[ProductHit]:
    raise NotImplementedError
