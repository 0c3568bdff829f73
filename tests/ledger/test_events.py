"""The byte forms that are hashed and signed."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shugu.jsoncanon import canonical_bytes
from shugu.ledger.events import format_ts, leaf_data, leaf_data_fast, sth_message

# Any text that UTF-8 can carry (surrogates cannot be stored, so no event holds them).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(seq=st.integers(0, 2**53), actor=text, action=text, subject=text, ts=text,
       p_hash=text)
def test_fast_leaf_data_is_byte_identical(seq: int, actor: str, action: str, subject: str,
                                          ts: str, p_hash: str) -> None:
    assert leaf_data_fast(seq, ts, actor, action, subject, p_hash) == leaf_data(
        seq, ts, actor, action, subject, p_hash)


def test_leaf_data_is_canonical_json() -> None:
    ts = datetime(2025, 3, 1, 8, 0, 0, 5, tzinfo=UTC)
    data = leaf_data(7, ts, "user:张三", "product.created", "product:1", "ab" * 32)
    assert data == canonical_bytes({"seq": 7, "ts": "2025-03-01T08:00:00.000005Z",
                                    "actor": "user:张三", "action": "product.created",
                                    "subject": "product:1", "payload_sha256": "ab" * 32})
    assert data.startswith(b'{"action":"product.created","actor":"user:\xe5\xbc\xa0')


def test_sth_message_format() -> None:
    ts = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
    assert sth_message(12, "0f" * 32, ts) == (
        b"shugu-sth/1\n12\n" + b"0f" * 32 + b"\n2025-03-01T08:00:00.000000Z")
    assert sth_message(12, "0f" * 32, format_ts(ts)) == sth_message(12, "0f" * 32, ts)
