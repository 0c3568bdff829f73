"""The offline verifier against real tampering: SQL on the database, edits of the export file.

The ledger under test has 12 events (2 from the first start, 10 appended) and signed tree
heads at sizes 4, 8 and 12; most attacks target event 5, so the first signed tree head that
can catch a consistent rewrite is the one at 8, and the last good one is at 4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from shugu.ledger import service as ledger
from shugu.ledger import tree_heads
from shugu.ledger.events import commitment, leaf_data_v2, sth_message
from shugu.ledger.export import export
from shugu.ledger.merkle import EMPTY_ROOT, frontier_append, frontier_root, leaf_hash
from shugu.ledger.models import LedgerEvent, LedgerNode, TreeHead
from shugu.ledger.read_db import LedgerDatabase
from shugu.ledger.verify import (
    CannotVerify,
    Report,
    SignedHead,
    signed_head_from_json,
    verify,
    verify_file,
)
from shugu.platform_key import PlatformKey
from shugu.runtime import Exchange
from tests.ledger.conftest import rewrite_consistently


def verify_db(ex: Exchange, public_key: str | None = None) -> Report:
    with LedgerDatabase(ex.settings.resolved_database_url()) as db:
        return verify(db.records(), public_key=public_key or ex.key.public_b64, nodes=db)


def export_to(ex: Exchange, path: Path, *, full: bool = True) -> Path:
    with LedgerDatabase(ex.settings.resolved_database_url()) as db:
        export(db, path, public_key=ex.key.public_b64, full=full)
    return path


def assert_problem(report: Report, kind: str, seq: int | None) -> None:
    assert report.problem is not None, "tampering went unnoticed"
    assert (report.problem.kind, report.problem.seq) == (kind, seq), str(report.problem)


def run_sql(ex: Exchange, stmt: object) -> None:
    with ex.transaction() as s:
        s.execute(stmt)  # type: ignore[call-overload]


# -- intact -------------------------------------------------------------------------------


def test_intact_database_and_export(ledger_ex: Exchange, tmp_path: Path) -> None:
    report = verify_db(ledger_ex)
    assert report.ok, report.problem
    assert (report.events, report.tree_heads, report.last_signed) == (12, 3, 12)
    assert report.nodes == 6 + 3 + 1  # every completed perfect subtree of 12 leaves
    file_report = verify_file(export_to(ledger_ex, tmp_path / "ledger.jsonl"))
    assert file_report.ok, file_report.problem
    assert file_report.root == report.root
    assert file_report.tree_heads == 3


def test_gzip_export(ledger_ex: Exchange, tmp_path: Path) -> None:
    assert verify_file(export_to(ledger_ex, tmp_path / "ledger.jsonl.gz")).ok


def test_unsigned_tail_is_reported(ledger_ex: Exchange) -> None:
    with ledger_ex.transaction() as s:
        ledger.append(s, actor="x", action="late", subject="y", payload={})
    report = verify_db(ledger_ex)
    assert report.ok and report.unsigned_tail == 1


# -- tampering with the database (every case is also exported and checked as a file) ------

EVENT = LedgerEvent.__table__
DB_ATTACKS: dict[str, tuple[Callable[[Exchange], None], str, int | None]] = {
    "payload": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                   .values(payload='{"n":5,"note":"forged"}')),
                "commitment_mismatch", 5),
    "actor": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                 .values(actor="user:mallory")), "commitment_mismatch", 5),
    "salt": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                .values(salt="00" * 16)), "commitment_mismatch", 5),
    "action": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                  .values(action="thing.deleted")), "leaf_hash_mismatch", 5),
    "subject": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                   .values(subject="thing:99")), "commitment_mismatch", 5),
    "public subject": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                          .values(public_subject="thing:99")),
                       "subject_mismatch", 5),
    "commitment": (lambda ex: run_sql(ex, update(EVENT).where(EVENT.c.seq == 5)
                                      .values(commitment="ab" * 32)),
                   "commitment_mismatch", 5),
    "deleted event": (lambda ex: run_sql(ex, delete(EVENT).where(EVENT.c.seq == 5)),
                      "missing_event", 5),
    "deleted last event": (lambda ex: run_sql(ex, delete(EVENT).where(EVENT.c.seq == 11)),
                           "missing_event", 11),
    "forged signature": (lambda ex: _forge_signature(ex, 8), "sth_signature_invalid", None),
    "changed signed root": (lambda ex: run_sql(ex, update(TreeHead).where(TreeHead.size == 8)
                                               .values(root="00" * 32)),
                            "sth_signature_invalid", None),
}


def _forge_signature(ex: Exchange, size: int) -> None:
    """Sign the tree head with another key, keeping the key id: a forgery, not a rotation."""
    other = PlatformKey.load_or_create(ex.settings.resolved_data_dir() / "mallory")
    run_sql(ex, update(TreeHead).where(TreeHead.size == size)
            .values(signature=other.sign(b"anything")))


def _alter_ts(ex: Exchange) -> None:
    with ex.transaction() as s:
        e = s.get(LedgerEvent, 5)
        assert e is not None
        e.ts = e.ts - timedelta(days=1)


def _reorder(ex: Exchange) -> None:
    """Swap events 5 and 6 wholesale, each row keeping its own hashes."""
    with ex.transaction() as s:
        a, b = s.get(LedgerEvent, 5), s.get(LedgerEvent, 6)
        assert a is not None and b is not None
        cols = ("ts", "actor", "action", "subject", "public_subject", "payload", "salt",
                "commitment", "leaf_hash")
        va, vb = ({c: getattr(x, c) for c in cols} for x in (a, b))
        for c in cols:
            setattr(a, c, vb[c])
            setattr(b, c, va[c])


DB_ATTACKS["ts"] = (_alter_ts, "leaf_hash_mismatch", 5)
DB_ATTACKS["reordered"] = (_reorder, "leaf_hash_mismatch", 5)


@pytest.mark.parametrize("attack", list(DB_ATTACKS))
def test_database_tampering(ledger_ex: Exchange, tmp_path: Path, attack: str) -> None:
    tamper, kind, seq = DB_ATTACKS[attack]
    tamper(ledger_ex)
    assert_problem(verify_db(ledger_ex), kind, seq)
    # The export copies what is stored, so the file shows the same damage.
    assert_problem(verify_file(export_to(ledger_ex, tmp_path / "x.jsonl")), kind, seq)


def test_modified_stored_node(ledger_ex: Exchange, tmp_path: Path) -> None:
    run_sql(ledger_ex, update(LedgerNode).where(LedgerNode.level == 1, LedgerNode.idx == 2)
            .values(hash=b"\x00" * 32))
    report = verify_db(ledger_ex)
    assert_problem(report, "node_mismatch", 4)
    assert "level 1, index 2" in report.problem.message  # type: ignore[union-attr]
    # Nodes are derived data and not exported: the file is intact.
    assert verify_file(export_to(ledger_ex, tmp_path / "x.jsonl")).ok


def test_deleted_stored_node(ledger_ex: Exchange) -> None:
    run_sql(ledger_ex, delete(LedgerNode).where(LedgerNode.level == 2, LedgerNode.idx == 1))
    assert_problem(verify_db(ledger_ex), "node_missing", 4)


def test_deleted_last_event_with_its_nodes_and_head_fixed(ledger_ex: Exchange) -> None:
    """Only the signed tree head still knows there were 12 events."""
    run_sql(ledger_ex, delete(EVENT).where(EVENT.c.seq == 11))
    rewrite_consistently(ledger_ex)
    report = verify_db(ledger_ex)
    assert_problem(report, "missing_event", 11)
    assert "[0, 12)" in report.problem.message  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["payload", "actor", "reorder"])
def test_consistent_rewrite_is_caught_by_the_signed_tree_head(
    ledger_ex: Exchange, tmp_path: Path, field: str
) -> None:
    if field == "payload":
        run_sql(ledger_ex, update(EVENT).where(EVENT.c.seq == 5).values(payload='{"n":-5}'))
    elif field == "actor":
        run_sql(ledger_ex, update(EVENT).where(EVENT.c.seq == 5).values(actor="user:mallory"))
    else:
        _reorder(ledger_ex)
    rewrite_consistently(ledger_ex)
    for report in (verify_db(ledger_ex),
                   verify_file(export_to(ledger_ex, tmp_path / "x.jsonl"))):
        assert_problem(report, "sth_root_mismatch", 4)
        message = report.problem.message  # type: ignore[union-attr]
        assert "[4, 8)" in message and "size 4" in message, message
        assert report.last_signed == 4


def test_wrong_pinned_key(ledger_ex: Exchange, tmp_path: Path) -> None:
    other = PlatformKey.load_or_create(tmp_path / "other")
    assert_problem(verify_db(ledger_ex, public_key=other.public_b64), "sth_unknown_key", None)


def test_no_key_cannot_verify_signatures(ledger_ex: Exchange) -> None:
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db, \
            pytest.raises(CannotVerify):
        verify(db.records(), public_key=None, nodes=db)


def test_sqlite_type_confusion(ledger_ex: Exchange, tmp_path: Path) -> None:
    """SQLite stores whatever it is given; a blob where text belongs is still caught."""
    if not ledger_ex.settings.resolved_database_url().startswith("sqlite"):
        pytest.skip("PostgreSQL enforces column types")
    run_sql(ledger_ex, text("UPDATE ledger_events SET payload = x'7b7d' WHERE seq = 5"))
    assert_problem(verify_db(ledger_ex), "malformed_event", 5)


# -- tampering with the export file ---------------------------------------------------------


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    "utf-8")
    return path


def _event_at(records: list[dict[str, object]], seq: int) -> int:
    return next(i for i, r in enumerate(records) if r.get("t") == "e" and r["seq"] == seq)


def _edit(field: str, value: object) -> Callable[[list[dict[str, object]]], None]:
    def edit(records: list[dict[str, object]]) -> None:
        event = records[_event_at(records, 5)]
        if field.startswith("opening."):
            event["opening"][field[8:]] = value  # type: ignore[index]
        else:
            event[field] = value
    return edit


def _drop_event(seq: int) -> Callable[[list[dict[str, object]]], None]:
    def edit(records: list[dict[str, object]]) -> None:
        del records[_event_at(records, seq)]
    return edit


def _swap(records: list[dict[str, object]]) -> None:
    i, j = _event_at(records, 5), _event_at(records, 6)
    records[i], records[j] = records[j], records[i]


def _sth(size: int, field: str, value: object) -> Callable[[list[dict[str, object]]], None]:
    def edit(records: list[dict[str, object]]) -> None:
        next(r for r in records if r.get("t") == "sth" and r["size"] == size)[field] = value
    return edit


def _rewrite_event(records: list[dict[str, object]], seq: int = 5) -> None:
    """Rewrite an event's payload and recompute its commitment, its leaf and the roots
    of the end record and the header: all an attacker without the key can do."""
    e = records[_event_at(records, seq)]
    o: dict[str, str] = e["opening"]  # type: ignore[assignment]
    o["payload_json"] = '{"n":-5}'
    e["commitment"] = commitment(o["actor"], o["subject"], o["payload_json"], o["salt"])
    e["leaf_hash"] = leaf_hash(leaf_data_v2(seq, str(e["ts"]), str(e["action"]),
                                            str(e["subject"]), str(e["commitment"]))).hex()
    frontier: list[bytes] = []
    for r in records:
        if r.get("t") == "e":
            frontier, _ = frontier_append(frontier, int(r["seq"]),  # type: ignore[call-overload]
                                          bytes.fromhex(str(r["leaf_hash"])))
    records[-1]["root"] = records[0]["root"] = frontier_root(frontier).hex()


def _consistent_file_rewrite(records: list[dict[str, object]]) -> None:
    _rewrite_event(records)


def _drop_tree_heads(min_size: int = 0) -> Callable[[list[dict[str, object]]], None]:
    def edit(records: list[dict[str, object]]) -> None:
        records[:] = [r for r in records
                      if not (r.get("t") == "sth" and int(r["size"]) >= min_size)]  # type: ignore[call-overload]
    return edit


def _drop_heads_and_rewrite(records: list[dict[str, object]]) -> None:
    _drop_tree_heads(8)(records)
    _rewrite_event(records, 9)


def _truncate(records: list[dict[str, object]]) -> None:
    del records[_event_at(records, 7):]


def _truncate_and_close(records: list[dict[str, object]]) -> None:
    """Cut after event 6 and write a fitting end record: the header still says 12."""
    _truncate(records)
    frontier: list[bytes] = []
    for r in records:
        if r.get("t") == "e":
            frontier, _ = frontier_append(frontier, int(r["seq"]),  # type: ignore[call-overload]
                                          bytes.fromhex(str(r["leaf_hash"])))
    records.append({"t": "end", "size": 7, "root": frontier_root(frontier).hex()})


FILE_ATTACKS: dict[str, tuple[Callable[[list[dict[str, object]]], None], str, int | None]] = {
    "payload": (_edit("opening.payload_json", '{"n":5,"note":"forged"}'),
                "commitment_mismatch", 5),
    "actor": (_edit("opening.actor", "user:mallory"), "commitment_mismatch", 5),
    "salt": (_edit("opening.salt", "00" * 16), "commitment_mismatch", 5),
    "full subject": (_edit("opening.subject", "thing:99"), "commitment_mismatch", 5),
    "action": (_edit("action", "thing.deleted"), "leaf_hash_mismatch", 5),
    "subject": (_edit("subject", "thing:99"), "subject_mismatch", 5),
    "commitment": (_edit("commitment", "ab" * 32), "commitment_mismatch", 5),
    "ts": (_edit("ts", "2000-01-01T00:00:00.000000Z"), "leaf_hash_mismatch", 5),
    "seq as text": (_edit("seq", "5"), "malformed_event", 5),
    "deleted event": (_drop_event(5), "missing_event", 5),
    "deleted last event": (_drop_event(11), "missing_event", 11),
    "reordered": (_swap, "missing_event", 5),
    "forged signature": (_sth(8, "signature", "A" * 86 + "=="), "sth_signature_invalid",
                         None),
    "changed signed root": (_sth(4, "root", "00" * 32), "sth_signature_invalid", None),
    "moved tree head": (lambda rs: rs.insert(_event_at(rs, 6), rs.pop(_event_at(rs, 3) + 1)),
                        "misplaced_tree_head", None),
    "truncated": (lambda rs: rs.pop(), "truncated", None),
    "truncated mid-file": (_truncate, "truncated", None),
    "truncated with a fitting end": (_truncate_and_close, "head_mismatch", 7),
    "head size": (lambda rs: rs[-1].update(size=13), "missing_event", 12),
    "header size": (lambda rs: rs[0].update(size=13), "head_mismatch", 12),
    "header size short": (lambda rs: rs[0].update(size=11), "head_mismatch", 11),
    "header root": (lambda rs: rs[0].update(root="00" * 32), "head_mismatch", None),
    "header key id": (lambda rs: rs[0].update(key_id="0" * 16), "head_mismatch", None),
    "tree heads removed": (_drop_tree_heads(), "unsigned_end", 0),
    "last tree head removed": (_drop_tree_heads(12), "unsigned_end", 8),
    "tree heads removed, event rewritten": (_drop_heads_and_rewrite, "unsigned_end", 4),
    "consistent rewrite": (_consistent_file_rewrite, "sth_root_mismatch", 4),
    "not json": (lambda rs: rs.insert(3, "garbage"), "malformed", None),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("attack", list(FILE_ATTACKS))
def test_file_tampering(ledger_ex: Exchange, tmp_path: Path, attack: str) -> None:
    path = export_to(ledger_ex, tmp_path / "ledger.jsonl")
    records = _lines(path)
    edit, kind, seq = FILE_ATTACKS[attack]
    edit(records)
    assert_problem(verify_file(_write(path, records)), kind, seq)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CannotVerify):
        verify_file(tmp_path / "absent.jsonl")
    with pytest.raises(CannotVerify):
        verify_file(_write(tmp_path / "other.jsonl", [{"format": "something else"}]))


# -- tree heads kept outside the ledger -------------------------------------------------------


def _kept_head(ex: Exchange, size: int) -> SignedHead:
    """A tree head as an auditor would have saved it from the API."""
    with ex.read() as s:
        sth = s.get(TreeHead, size)
        assert sth is not None
        served = tree_heads.to_schema(sth, ex.key).model_dump(mode="json")
    return signed_head_from_json(served)


def test_kept_tree_head_catches_what_the_stored_ones_no_longer_can(
    ledger_ex: Exchange, tmp_path: Path
) -> None:
    kept = _kept_head(ledger_ex, 12)
    # Drop the last event and every trace of it: its signed tree head, its nodes, the head.
    run_sql(ledger_ex, delete(EVENT).where(EVENT.c.seq == 11))
    run_sql(ledger_ex, delete(TreeHead).where(TreeHead.size == 12))
    rewrite_consistently(ledger_ex)
    # Nothing stored contradicts the shortened ledger, as long as an unsigned tail is
    # tolerated (the operator's own check of a live ledger)...
    assert verify_db(ledger_ex).ok
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db:
        report = verify(db.records(), public_key=ledger_ex.key.public_b64, nodes=db,
                        trusted=[kept])
    assert_problem(report, "missing_event", 11)  # ...but the kept head does
    assert "trusted tree head" in report.problem.message  # type: ignore[union-attr]
    path = export_to(ledger_ex, tmp_path / "x.jsonl")
    # ...but a file must be signed to its end, and the kept head knows it was longer.
    assert_problem(verify_file(path), "unsigned_end", 8)
    assert_problem(verify_file(path, trusted=[kept]), "missing_event", 11)


def test_kept_tree_head_catches_a_rewrite_after_its_copy_was_deleted(
    ledger_ex: Exchange,
) -> None:
    kept = _kept_head(ledger_ex, 8)
    run_sql(ledger_ex, update(EVENT).where(EVENT.c.seq == 5).values(actor="user:mallory"))
    run_sql(ledger_ex, delete(TreeHead).where(TreeHead.size > 4))
    rewrite_consistently(ledger_ex)
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db:
        report = verify(db.records(), public_key=ledger_ex.key.public_b64, nodes=db,
                        trusted=[kept])
    assert_problem(report, "sth_root_mismatch", 4)
    assert "[4, 8)" in report.problem.message  # type: ignore[union-attr]


def test_kept_tree_head_of_the_empty_ledger(ledger_ex: Exchange) -> None:
    ts = "2025-01-01T00:00:00.000000Z"
    empty = SignedHead(size=0, root=EMPTY_ROOT.hex(), timestamp=ts, key_id=ledger_ex.key.key_id,
                       signature=ledger_ex.key.sign(sth_message(0, EMPTY_ROOT.hex(), ts)))
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db:
        assert verify(db.records(), public_key=ledger_ex.key.public_b64, nodes=db,
                      trusted=[empty]).ok


def test_cut_off_gzip_export(ledger_ex: Exchange, tmp_path: Path) -> None:
    path = export_to(ledger_ex, tmp_path / "ledger.jsonl.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    assert_problem(verify_file(path), "truncated", None)


# -- the public form, and keys ------------------------------------------------------------


def test_public_export_discloses_nothing_private_and_verifies(
    ledger_ex: Exchange, tmp_path: Path
) -> None:
    path = export_to(ledger_ex, tmp_path / "public.jsonl", full=False)
    records = _lines(path)
    assert records[0]["form"] == "public" and records[0]["size"] == 12
    events = [r for r in records if r.get("t") == "e"]
    assert all(set(e) == {"t", "seq", "ts", "action", "subject", "commitment", "leaf_hash"}
               for e in events)
    text_ = path.read_text("utf-8")
    assert "user:u5" not in text_ and "引号" not in text_ and '"salt"' not in text_
    report = verify_file(path, public_key=ledger_ex.key.public_b64)
    assert report.ok, report.problem
    assert report.root == verify_db(ledger_ex).root


PUBLIC_ATTACKS: dict[str, tuple[Callable[[list[dict[str, object]]], None], str, int | None]] = {
    "action": (_edit("action", "thing.deleted"), "leaf_hash_mismatch", 5),
    "subject": (_edit("subject", "thing:99"), "leaf_hash_mismatch", 5),
    "commitment": (_edit("commitment", "ab" * 32), "leaf_hash_mismatch", 5),
    "reordered": (_swap, "missing_event", 5),
    "tree heads removed": (_drop_tree_heads(), "unsigned_end", 0),
    "header size": (lambda rs: rs[0].update(size=13), "head_mismatch", 12),
}


@pytest.mark.parametrize("attack", list(PUBLIC_ATTACKS))
def test_public_file_tampering(ledger_ex: Exchange, tmp_path: Path, attack: str) -> None:
    path = export_to(ledger_ex, tmp_path / "public.jsonl", full=False)
    records = _lines(path)
    edit, kind, seq = PUBLIC_ATTACKS[attack]
    edit(records)
    assert_problem(verify_file(_write(path, records), public_key=ledger_ex.key.public_b64),
                   kind, seq)


def test_public_rewrite_with_recomputed_hashes_and_no_tree_heads(
    ledger_ex: Exchange, tmp_path: Path
) -> None:
    """The issue's case: tree heads removed, an event's commitment replaced and every hash
    recomputed; the pinned key finds no signature covering the end."""
    path = export_to(ledger_ex, tmp_path / "public.jsonl", full=False)
    records = _lines(path)
    _drop_tree_heads()(records)
    e = records[_event_at(records, 5)]
    e["commitment"] = "cd" * 32
    e["leaf_hash"] = leaf_hash(leaf_data_v2(5, str(e["ts"]), str(e["action"]),
                                            str(e["subject"]), "cd" * 32)).hex()
    frontier: list[bytes] = []
    for r in records:
        if r.get("t") == "e":
            frontier, _ = frontier_append(frontier, int(r["seq"]),  # type: ignore[call-overload]
                                          bytes.fromhex(str(r["leaf_hash"])))
    records[-1]["root"] = records[0]["root"] = frontier_root(frontier).hex()
    report = verify_file(_write(path, records), public_key=ledger_ex.key.public_b64)
    assert_problem(report, "unsigned_end", 0)


def test_wrong_key_for_a_file(ledger_ex: Exchange, tmp_path: Path) -> None:
    path = export_to(ledger_ex, tmp_path / "x.jsonl")
    other = PlatformKey.load_or_create(tmp_path / "other")
    assert_problem(verify_file(path, public_key=other.public_b64), "sth_unknown_key", None)


def test_forged_header_key_is_not_trusted_when_a_key_is_pinned(
    ledger_ex: Exchange, tmp_path: Path
) -> None:
    """Mallory replaces the header's key with hers and re-signs the tree heads with it."""
    path = export_to(ledger_ex, tmp_path / "x.jsonl")
    mallory = PlatformKey.load_or_create(tmp_path / "mallory")
    records = _lines(path)
    records[0].update(public_key=mallory.public_b64, key_id=mallory.key_id)
    for r in records:
        if r.get("t") == "sth":
            r["key_id"] = mallory.key_id
            r["signature"] = mallory.sign(sth_message(int(r["size"]),  # type: ignore[call-overload]
                                                      str(r["root"]), str(r["timestamp"])))
    _write(path, records)
    assert verify_file(path).ok  # only self-consistent: the file's own key
    assert_problem(verify_file(path, public_key=ledger_ex.key.public_b64),
                   "sth_unknown_key", None)


@pytest.mark.parametrize("key", ["nonsense", "bm9uc2Vuc2U=", "", "A" * 42 + "==",
                                 "QUFB" * 11 + "QQ==", "äöü"])
def test_nonsense_key_is_blamed_on_the_key(ledger_ex: Exchange, tmp_path: Path,
                                           key: str) -> None:
    path = export_to(ledger_ex, tmp_path / "x.jsonl")
    with pytest.raises(CannotVerify) as info:
        verify_file(path, public_key=key)
    message = str(info.value)
    assert "public key" in message and "signature" not in message, message
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db, \
            pytest.raises(CannotVerify, match="public key"):
        verify(db.records(), public_key=key, nodes=db)


def test_file_without_any_key_cannot_be_verified(ledger_ex: Exchange, tmp_path: Path) -> None:
    path = tmp_path / "nokey.jsonl"
    with LedgerDatabase(ledger_ex.settings.resolved_database_url()) as db:
        export(db, path, public_key=None)
    with pytest.raises(CannotVerify, match="no public key"):
        verify_file(path)
