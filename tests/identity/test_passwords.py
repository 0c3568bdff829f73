"""Password hashing cost: RFC 9106's low-memory argon2id by default; hashes made at one cost
keep verifying after the cost changes (the parameters live in the hash)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shugu.config import Settings
from shugu.identity import passwords


@pytest.fixture
def restore() -> Iterator[None]:
    yield
    s = Settings()
    passwords.configure(time_cost=s.argon2_time_cost, memory_kib=s.argon2_memory_kib,
                        parallelism=s.argon2_parallelism)


def test_the_default_cost_is_rfc9106_low_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIME_COST", "MEMORY_KIB", "PARALLELISM"):
        monkeypatch.delenv(f"SHUGU_ARGON2_{name}", raising=False)
    s = Settings()
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (3, 65536, 4)


def test_hashes_survive_a_change_of_cost(restore: None) -> None:
    passwords.configure(time_cost=3, memory_kib=65536, parallelism=4)
    strong = passwords.hash_password("correct horse")
    assert "$m=65536,t=3,p=4$" in strong
    passwords.configure(time_cost=1, memory_kib=8, parallelism=1)
    cheap = passwords.hash_password("correct horse")
    assert "$m=8,t=1,p=1$" in cheap
    assert passwords.matches(strong, "correct horse") and passwords.matches(cheap, "correct horse")
    assert not passwords.matches(strong, "wrong") and not passwords.matches("garbage", "x")
