"""Password hashing (argon2id). The cost is a setting: RFC 9106's low-memory profile by
default (64 MiB, 3 passes, 4 lanes); a deployment may raise it, and the test suite lowers
it, because it signs in thousands of times and the hash's strength is not what it tests.
Stored hashes carry their own parameters, so changing the cost never locks anyone out."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def configure(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                             parallelism=parallelism)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
