"""Proofs from stored subtrees against the plain RFC 6962 reference, and the client checks."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shugu.errors import InvalidInput, NotFound
from shugu.ledger import proofs
from shugu.ledger import service as ledger
from shugu.ledger.events import leaf_data_v2
from shugu.ledger.merkle import EMPTY_ROOT
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.ledger import reference as ref

ENTRIES = tuple(f"entry {i}".encode() for i in range(4096))


def reference_fetch(entries: tuple[bytes, ...]):  # type: ignore[no-untyped-def]
    """Plays the database: any aligned perfect subtree's hash, computed by the reference."""
    def fetch(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {(lv, i): ref.mth(entries[i << lv:(i + 1) << lv]) for lv, i in wanted}
    return fetch


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def check_inclusion(m: int, n: int) -> None:
    entries = ENTRIES[:n]
    got = proofs.build(proofs.inclusion_ranges(m, n), reference_fetch(entries))
    assert got == ref.path(m, entries)
    leaf, root = ref.mth(entries[m:m + 1]), ref.mth(entries)
    assert proofs.verify_inclusion(leaf, m, n, got, root)
    assert not proofs.verify_inclusion(flip(leaf), m, n, got, root)
    assert not proofs.verify_inclusion(leaf, m, n, got, flip(root))
    for i in range(len(got)):
        assert not proofs.verify_inclusion(leaf, m, n, [*got[:i], flip(got[i]), *got[i + 1:]],
                                           root)
    assert not proofs.verify_inclusion(leaf, m, n, [*got, root], root)
    if got:
        assert not proofs.verify_inclusion(leaf, m, n, got[:-1], root)
    if n > 1:
        other = (m + 1) % n
        assert not proofs.verify_inclusion(leaf, other, n, got, root)


def check_consistency(m: int, n: int) -> None:
    entries = ENTRIES[:n]
    got = proofs.build(proofs.consistency_ranges(m, n), reference_fetch(entries))
    assert got == (ref.proof(m, entries) if m > 0 else [])
    first, second = ref.mth(entries[:m]), ref.mth(entries)
    assert proofs.verify_consistency(m, n, first, second, got)
    assert not proofs.verify_consistency(m, n, flip(first), second, got)
    if m > 0:  # every tree extends the empty one, whatever its root
        assert not proofs.verify_consistency(m, n, first, flip(second), got)
    for i in range(len(got)):
        assert not proofs.verify_consistency(m, n, first, second,
                                             [*got[:i], flip(got[i]), *got[i + 1:]])
    if got:
        assert not proofs.verify_consistency(m, n, first, second, got[:-1])
    assert not proofs.verify_consistency(m, n, first, second, [*got, second])


@pytest.mark.parametrize("n", range(1, 71))
def test_inclusion_every_leaf_of_small_trees(n: int) -> None:
    for m in range(n):
        check_inclusion(m, n)


@pytest.mark.parametrize("n", range(1, 71))
def test_consistency_every_pair_of_small_trees(n: int) -> None:
    for m in range(n + 1):
        check_consistency(m, n)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, len(ENTRIES)).flatmap(
    lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_inclusion_random_sizes(mn: tuple[int, int]) -> None:
    check_inclusion(*mn)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, len(ENTRIES)).flatmap(
    lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_consistency_random_sizes(mn: tuple[int, int]) -> None:
    check_consistency(*mn)


def test_proof_size_is_logarithmic() -> None:
    n = 1_000_000
    for m in (0, 1, 499_999, 524_287, 524_288, n - 1):
        ranges = proofs.inclusion_ranges(m, n)
        assert len(ranges) <= 20
        assert sum(len(proofs.pieces(a, b)) for a, b in ranges) <= 20 * 20
    assert len(proofs.consistency_ranges(777_777, n)) <= 21


def test_unaligned_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        proofs.pieces(1, 3)


def test_degenerate_consistency() -> None:
    assert proofs.verify_consistency(0, 5, EMPTY_ROOT, b"x" * 32, [])
    assert not proofs.verify_consistency(0, 5, b"y" * 32, b"x" * 32, [])
    assert not proofs.verify_consistency(6, 5, b"y" * 32, b"x" * 32, [b"z" * 32])
    assert not proofs.verify_inclusion(b"x" * 32, 5, 5, [], b"x" * 32)


# -- from the database (SQLite and PostgreSQL) ----------------------------------------------


def _grow(exchange: Exchange, size: int) -> tuple[bytes, ...]:
    """Append until the ledger holds `size` events; return the entries (leaf data)."""
    with exchange.transaction() as s:
        while proofs.current_size(s) < size:
            n = proofs.current_size(s)
            ledger.append(s, actor="test", action="test.event", subject=f"thing:{n}",
                          payload={"n": n, "text": "数据 \"quoted\""})
    with exchange.read() as s:
        rows = s.scalars(select(LedgerEvent).order_by(LedgerEvent.seq)).all()
        return tuple(leaf_data_v2(e.seq, e.ts, e.action, e.public_subject, e.commitment or "")
                     for e in rows)


def test_stored_proofs_match_reference(exchange: Exchange) -> None:
    """Every leaf of every tree size 1..70 and every pair of sizes, from stored nodes."""
    top = 70
    entries = _grow(exchange, top)
    assert len(entries) == top
    with exchange.read() as s:
        for n in range(1, top + 1):
            root = ref.mth(entries[:n])
            assert proofs.root(s, n) == root
            for m in range(n):
                size, leaf, path, got_root = proofs.inclusion_proof(s, m, n)
                assert (size, leaf, got_root) == (n, ref.mth(entries[m:m + 1]), root)
                assert path == ref.path(m, entries[:n])
            for m in range(1, n + 1):
                first_root, second_root, proof = proofs.consistency_proof(s, m, n)
                assert (first_root, second_root) == (ref.mth(entries[:m]), root)
                assert proof == ref.proof(m, entries[:n])


def test_bad_ranges(exchange: Exchange) -> None:
    _grow(exchange, 5)
    with exchange.read() as s:
        with pytest.raises(NotFound) as nf:
            proofs.inclusion_proof(s, 5)
        assert nf.value.code == "event_not_found"
        for seq, size in ((3, 3), (0, 6), (0, -1)):
            with pytest.raises(InvalidInput) as bad:
                proofs.inclusion_proof(s, seq, size)
            assert bad.value.code == "invalid_tree_size"
        for first, second in ((3, 2), (1, 6), (-1, 2)):
            with pytest.raises(InvalidInput) as bad:
                proofs.consistency_proof(s, first, second)
            assert bad.value.code == "invalid_tree_size"


def test_missing_node_is_reported_not_guessed(exchange: Exchange) -> None:
    from shugu.ledger.models import LedgerNode

    _grow(exchange, 8)
    with exchange.transaction() as s:
        s.execute(LedgerNode.__table__.delete().where(LedgerNode.level == 2))
    with exchange.read() as s, pytest.raises(proofs.LedgerInconsistent):
        proofs.inclusion_proof(s, 0, 8)


def test_reference_self_check() -> None:
    # RFC 6962 leaf and node prefixes, checked by hand for a two-entry tree.
    a, b = b"a", b"b"
    expected = hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00a").digest()
                              + hashlib.sha256(b"\x00b").digest()).digest()
    assert ref.mth((a, b)) == expected
