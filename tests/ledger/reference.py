"""A deliberately plain RFC 6962 §2.1 reference, written from the RFC's definitions.

Recursive MTH, PATH and PROOF over a Python list of entries, with no shared code from
shugu.ledger, so the production code (which works from stored subtrees) is checked against
an independent reading of the spec.
"""

from __future__ import annotations

import hashlib
from functools import cache


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(entries: tuple[bytes, ...]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + entries[0])
    k = _k(n)
    return _sha(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: tuple[bytes, ...]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def _subproof(m: int, entries: tuple[bytes, ...], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [mth(entries)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, entries[:k], complete), mth(entries[k:])]
    return [*_subproof(m - k, entries[k:], False), mth(entries[:k])]


def proof(m: int, entries: tuple[bytes, ...]) -> list[bytes]:
    return _subproof(m, entries, True)
