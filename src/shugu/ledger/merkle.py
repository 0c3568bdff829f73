"""RFC 6962 Merkle tree hashing (leaves 0x00, interior nodes 0x01) and the append frontier."""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def frontier_append(
    frontier: list[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Add leaf number `size` to a tree whose perfect-subtree roots are `frontier`.

    Returns the new frontier and the interior nodes completed by this leaf, as
    (level, index, hash): the node at (level, index) covers leaves
    [index * 2**level, (index + 1) * 2**level).
    """
    new = [*frontier, leaf]
    completed: list[tuple[int, int, bytes]] = []
    level, n = 0, size
    while n & 1:
        right = new.pop()
        left = new.pop()
        level += 1
        merged = node_hash(left, right)
        completed.append((level, size >> level, merged))
        new.append(merged)
        n >>= 1
    return new, completed


def frontier_root(frontier: list[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc
