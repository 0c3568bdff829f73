"""Inclusion and consistency proofs (RFC 6962 §2.1.1, §2.1.2) and their client-side checks.

Proofs are built from stored hashes, never by rehashing leaves. Every subtree hash a proof
needs is the Merkle tree hash (MTH) of a range [a, b) that the RFC's recursion produces by
always splitting at the largest power of two below the range's length. Such a range starts
at a multiple of the smallest power of two >= b - a (true of [0, n); both halves of a split
keep it), so it breaks into the perfect subtrees given by the binary digits of b - a, each
aligned and therefore stored: level 0 in ledger_events.leaf_hash, higher levels in
ledger_nodes. A proof has O(log n) ranges of O(log n) pieces each, fetched in two queries.

The `verify_*` functions follow RFC 9162 §2.1.3.2 and §2.1.4.2 and need nothing but hashlib;
the SDK user and the portal call them to check what the server hands out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from shugu.errors import InvalidInput, NotFound, ShuguError
from shugu.ledger.merkle import EMPTY_ROOT, frontier_root, node_hash
from shugu.ledger.models import LedgerEvent, LedgerNode
from shugu.ledger.service import head_state

Range = tuple[int, int]
Piece = tuple[int, int]  # (level, index): leaves [index * 2**level, (index + 1) * 2**level)


class LedgerInconsistent(ShuguError):
    """A hash the ledger must hold is not there: the database was damaged or tampered with."""

    status = 500
    code = "ledger_inconsistent"


def _split(length: int) -> int:
    """The largest power of two strictly below `length` (length >= 2)."""
    return 1 << ((length - 1).bit_length() - 1)


def pieces(a: int, b: int) -> list[Piece]:
    """The aligned perfect subtrees that make up [a, b), largest first."""
    out: list[Piece] = []
    while a < b:
        level = (b - a).bit_length() - 1
        if a & ((1 << level) - 1):
            raise ValueError(f"range [{a}, {b}) is not one an RFC 6962 proof uses")
        out.append((level, a >> level))
        a += 1 << level
    return out


def inclusion_ranges(m: int, n: int) -> list[Range]:
    """The ranges whose MTHs form PATH(m, D[0:n]), leaf's sibling first."""
    out: list[Range] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()  # collected from the root down; the RFC lists the deepest sibling first
    return out


def consistency_ranges(m: int, n: int) -> list[Range]:
    """The ranges whose MTHs form PROOF(m, D[0:n]) (empty when m is 0 or m == n)."""
    if m == 0 or m == n:
        return []
    out: list[Range] = []
    lo, hi, complete = 0, n, True
    while True:
        if m == hi - lo:
            if not complete:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    out.reverse()
    return out


def build(ranges: Iterable[Range], fetch: Callable[[set[Piece]], dict[Piece, bytes]]
          ) -> list[bytes]:
    """MTH of each range from its perfect pieces; `fetch` returns the hashes it has of the
    pieces asked for (level 0: leaf hashes)."""
    split = [pieces(a, b) for a, b in ranges]
    wanted = {p for ps in split for p in ps}
    found = fetch(wanted) if wanted else {}
    missing = wanted - found.keys()
    if missing:
        level, idx = min(missing)
        raise LedgerInconsistent(
            f"the ledger lacks the stored hash at level {level}, index {idx}; "
            "run `shugu ledger verify`", level=level, idx=idx)
    # The pieces of a range, largest first, fold exactly as a frontier does.
    return [frontier_root([found[p] for p in ps]) for ps in split]


def _fetch_stored(session: Session) -> Callable[[set[Piece]], dict[Piece, bytes]]:
    def fetch(wanted: set[Piece]) -> dict[Piece, bytes]:
        found: dict[Piece, bytes] = {}
        leaves = sorted(idx for level, idx in wanted if level == 0)
        nodes = sorted(p for p in wanted if p[0] > 0)
        if leaves:
            rows = session.execute(select(LedgerEvent.seq, LedgerEvent.leaf_hash)
                                   .where(LedgerEvent.seq.in_(leaves)))
            found.update(((0, seq), bytes(h)) for seq, h in rows)
        if nodes:
            rows = session.execute(
                select(LedgerNode.level, LedgerNode.idx, LedgerNode.hash)
                .where(tuple_(LedgerNode.level, LedgerNode.idx).in_(nodes)))
            found.update(((level, idx), bytes(h)) for level, idx, h in rows)
        return found

    return fetch


def range_hashes(session: Session, ranges: Iterable[Range]) -> list[bytes]:
    """MTH of each range, from stored leaf and node hashes (two queries)."""
    return build(ranges, _fetch_stored(session))


def current_size(session: Session) -> int:
    return head_state(session)[0]


def root(session: Session, size: int) -> bytes:
    return range_hashes(session, [(0, size)])[0]


def _check_tree_size(tree_size: int, size: int) -> None:
    if not 0 <= tree_size <= size:
        raise InvalidInput(f"tree_size must be between 0 and the ledger's size {size}",
                           code="invalid_tree_size", tree_size=tree_size, size=size)


def inclusion_proof(
    session: Session, seq: int, tree_size: int | None = None
) -> tuple[int, bytes, list[bytes], bytes]:
    """(tree_size, leaf hash, audit path, root) proving event `seq` is in the first tree_size."""
    size = current_size(session)
    if not 0 <= seq < size:
        raise NotFound(f"no ledger event {seq}", code="event_not_found", seq=seq)
    tree_size = size if tree_size is None else tree_size
    _check_tree_size(tree_size, size)
    if seq >= tree_size:
        raise InvalidInput(f"event {seq} is not in a tree of size {tree_size}",
                           code="invalid_tree_size", seq=seq, tree_size=tree_size)
    ranges = [(seq, seq + 1), (0, tree_size), *inclusion_ranges(seq, tree_size)]
    leaf, tree_root, *path = range_hashes(session, ranges)
    return tree_size, leaf, path, tree_root


def consistency_proof(
    session: Session, first: int, second: int
) -> tuple[bytes, bytes, list[bytes]]:
    """(first root, second root, proof) that the first `first` events are a prefix of `second`."""
    size = current_size(session)
    _check_tree_size(second, size)
    if not 0 <= first <= second:
        raise InvalidInput("first must be between 0 and second", code="invalid_tree_size",
                           first=first, second=second)
    first_root, second_root, *proof = range_hashes(
        session, [(0, first), (0, second), *consistency_ranges(first, second)])
    return first_root, second_root, proof


# -- client-side checks -------------------------------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf number `index` is in the tree `root_hash`?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree `first_root` (size first) a prefix of `second_root`?

    Beyond the RFC: every tree extends the empty one, so first == 0 takes an empty proof.
    """
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a stored subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
