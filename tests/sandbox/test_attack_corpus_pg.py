"""A core of the adversarial corpus on PostgreSQL (the whole corpus runs there too, marked
slow, in test_attack_corpus.py): the first attack of every class in both modes, deep nesting,
deleting one's own table between two queries, the ε budget against averaging, legitimate
answers, and refusals on record in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.corpus_world import Corpus, open_corpus
from tests.sandbox.test_attack_corpus import (
    CLASSES,
    LEGIT,
    MODES,
    NESTING,
    Attack,
    averaging_is_stopped_by_the_budget,
    concurrent_queries_cannot_overspend,
    delete_own_table_between_queries,
    judge,
    legitimate_aggregate,
    nesting_and_size,
    refusals_are_on_record,
)

CORE = [(f"{cls}:{a.id}", a) for cls, attacks in CLASSES.items() for a in attacks[:1]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    with open_corpus("postgresql", tmp_path_factory.mktemp("corpus-pg")) as c:
        yield c


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "attack"), CORE, ids=[i for i, _ in CORE])
def test_attack_core(corpus: Corpus, mode: str, name: str, attack: Attack) -> None:
    judge(corpus, mode, attack)


@pytest.mark.parametrize("mode", MODES)
def test_nesting(corpus: Corpus, mode: str) -> None:
    for name, sql in NESTING[:2]:
        nesting_and_size(corpus, mode, name, sql)


@pytest.mark.parametrize("mode", MODES)
def test_delete_own_table_between_queries(corpus: Corpus, mode: str) -> None:
    delete_own_table_between_queries(corpus, mode)


def test_averaging_is_stopped_by_the_budget(corpus: Corpus) -> None:
    averaging_is_stopped_by_the_budget(corpus)


def test_concurrency_cannot_overspend(corpus: Corpus) -> None:
    concurrent_queries_cannot_overspend(corpus)


def test_legitimate_aggregates(corpus: Corpus) -> None:
    for n in range(0, len(LEGIT), 3):
        legitimate_aggregate(corpus, n)


def test_refusals_are_on_record(corpus: Corpus) -> None:
    refusals_are_on_record(corpus)
