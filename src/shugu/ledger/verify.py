"""The offline ledger verifier: recomputes everything from the data and trusts nothing stored.

It needs only the hashing modules (events, merkle), the Ed25519 check and the data, handed
in as one ordered stream of records:

- events as tuples (seq, ts, action, public_subject, commitment, leaf_hash, actor, subject,
  payload, salt, payload_sha256): ts already in the leaf's text form, leaf_hash the stored
  bytes or None, commitment None for version-1 events; the last five (the opening) are
  None in the public form;
- `SignedHead`s, each placed right after the event that completes its size;
- at most one `Head` at the end: the writer's unsigned record of where the ledger ends.

For every event it checks the sequence, the opening when given (it must hash to the
commitment and show as the public subject; for version 1, to the payload hash), the leaf
hash (rebuilt from the public form; a version-1 leaf can be rebuilt only from the opening,
so the public form takes it as given and the tree and signatures vouch for it); it rebuilds the
tree with an O(log n) frontier, compares every stored node it is given (a `NodeSource`) as
the node completes, and checks every signed tree head's signature and root. It stops at
the first problem, which names the first altered or missing event it can pin down.

What it cannot see: a rewrite that recomputes every hash consistently leaves only the
signatures to catch it. So with `require_signed` (export files, and the database when a key
is pinned) a ledger whose last event no signed tree head covers fails (`unsigned_end`):
otherwise deleting the tree heads and rewriting the tail would pass. Whoever holds the
platform key can sign anything (pin the key you trust with `public_key`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from shugu.ledger.events import (
    STH_VERSION,
    commitment,
    format_ts,
    leaf_data_fast,
    leaf_data_v2,
    public_subject,
    sth_message,
)
from shugu.ledger.merkle import EMPTY_ROOT, frontier_root
from shugu.platform_key import InvalidPublicKey, check_public_key, key_id_of, verify_signature

EXPORT_FORMAT = "shugu-ledger-export"
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)

EventRow = tuple[int, str, str, str, str | None, bytes | None,
                 str | None, str | None, str | None, str | None, str | None]


@dataclass(frozen=True)
class SignedHead:
    size: int
    root: str
    timestamp: str  # as signed: UTC YYYY-MM-DDTHH:MM:SS.ffffffZ
    signature: str
    key_id: str


@dataclass(frozen=True)
class Head:
    """Where the writer says the ledger ends (unsigned: a consistency check, not a proof)."""

    size: int
    root: str | None = None
    frontier: list[str] | None = None
    source: str = "ledger head"


Record = EventRow | SignedHead | Head


class NodeSource(Protocol):
    """Stored interior nodes, read one level at a time in index order."""

    def levels(self) -> Iterable[int]: ...

    def scan(self, level: int) -> Iterable[tuple[int, bytes]]: ...


@dataclass(frozen=True)
class Problem:
    kind: str  # stable code, e.g. payload_hash_mismatch
    seq: int | None  # the first event concerned, when one can be named
    message: str

    def __str__(self) -> str:
        where = f"event {self.seq}: " if self.seq is not None else ""
        return f"{where}{self.message} [{self.kind}]"


@dataclass
class Report:
    events: int = 0
    tree_heads: int = 0
    nodes: int = 0
    root: str = EMPTY_ROOT.hex()
    last_signed: int | None = None  # size of the largest signed tree head that matched
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def unsigned_tail(self) -> int:
        """Events after the last signed tree head: no signature protects them yet."""
        return self.events - (self.last_signed or 0)


class Tampered(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class CannotVerify(Exception):
    """The input cannot be read or checked at all (as opposed to: it was altered)."""


def _span(level: int, idx: int) -> str:
    return f"[{idx << level}, {(idx + 1) << level})"


class _Verifier:
    def __init__(self, public_key: str | None, nodes: NodeSource | None,
                 trusted: Iterable[SignedHead] = (), expect: Iterable[Head] = (),
                 require_signed: bool = False) -> None:
        # Tree heads the caller kept from earlier (e.g. from the API): checked like the
        # stored ones, and they still count when an attacker deleted the stored copies.
        self.trusted = sorted(trusted, key=lambda h: h.size, reverse=True)
        self.public_key = public_key
        self.key_id = key_id_of(_b64(public_key)) if public_key is not None else None
        self.nodes = nodes
        self.level_iters: dict[int, Iterator[tuple[int, bytes]]] = {}
        self.report = Report()
        self.head: Head | None = None
        self.expect = list(expect)  # other claims of where the ledger ends (a file header)
        self.require_signed = require_signed

    # The hot loop is one function with local names: at a million events, attribute look-ups
    # and per-event calls are most of the cost that is not hashing.
    def run(self, records: Iterable[Record], progress: Callable[[int], None] | None) -> None:
        sha256 = hashlib.sha256
        leaf_bytes = leaf_data_fast
        leaf_v2 = leaf_data_v2
        commit_of = commitment
        shown_as = public_subject
        stack: list[bytes] = []  # the frontier: roots of the perfect subtrees, largest first
        check_node = self._node if self.nodes is not None else None
        n = 0
        trusted = self.trusted
        due = trusted[-1].size if trusted else -1  # size at which the next trusted head is due
        try:
            if due == 0:
                due = self._trusted(0, stack)
            for rec in records:
                if type(rec) is not tuple:
                    self.report.events = n
                    self._other(rec, n, stack)  # type: ignore[arg-type]
                    continue
                (seq, ts, action, shown, commit, stored_leaf,
                 actor, subject, payload, salt, p_hash) = rec
                if seq != n or type(seq) is not int:
                    self._out_of_sequence(seq, n)
                if commit is not None:  # version 2: the leaf is over the public form
                    if payload is not None:
                        if commit_of(actor, subject, payload, salt) != commit:
                            raise Tampered(Problem(
                                "commitment_mismatch", n,
                                "the opening (actor, subject, payload, salt) does not hash "
                                "to the event's commitment (opening altered)"))
                        if shown_as(subject) != shown:
                            raise Tampered(Problem(
                                "subject_mismatch", n,
                                f"the public subject {shown!r} is not the one the full "
                                f"subject {subject!r} shows as"))
                    leaf = sha256(b"\x00" + leaf_v2(seq, ts, action, shown, commit)).digest()
                elif payload is not None:  # version 1, opened: rebuild the leaf
                    if sha256(payload.encode()).hexdigest() != p_hash:
                        raise Tampered(Problem(
                            "payload_hash_mismatch", n,
                            "the payload does not hash to the recorded payload_sha256 "
                            "(payload altered)"))
                    leaf = sha256(
                        b"\x00" + leaf_bytes(seq, ts, actor, action, subject, p_hash)).digest()
                elif type(stored_leaf) is bytes and len(stored_leaf) == 32:
                    leaf = stored_leaf  # version 1, public form: only the tree vouches
                else:
                    raise Tampered(Problem(
                        "malformed_event", n, "a version-1 event without its opening needs "
                        "its leaf hash"))
                if stored_leaf is not None and stored_leaf != leaf:
                    raise Tampered(Problem(
                        "leaf_hash_mismatch", n,
                        "the stored leaf hash differs from the hash of the event's fields "
                        "(seq, ts, action, subject or commitment altered)"))
                stack.append(leaf)
                level, m = 0, n
                while m & 1:
                    right = stack.pop()
                    node = sha256(b"\x01" + stack.pop() + right).digest()
                    stack.append(node)
                    level += 1
                    m >>= 1
                    if check_node is not None:
                        check_node(level, n >> level, node)
                n += 1
                if n == due:
                    due = self._trusted(n, stack)
                if progress is not None and not n & 0x3FFF:
                    progress(n)
        except (TypeError, AttributeError, UnicodeError) as exc:
            # Only stored values of the wrong type (SQLite keeps whatever it is given) or
            # unencodable text get here.
            raise Tampered(Problem("malformed_event", n, f"unreadable field ({exc})")) from exc
        finally:
            self.report.events = n
            self.report.root = frontier_root(stack).hex()
        if progress is not None:
            progress(n)
        self._finish(n, stack)

    def _out_of_sequence(self, seq: object, n: int) -> None:
        if type(seq) is not int:
            raise Tampered(Problem("malformed_event", n, f"sequence number {seq!r} is not an "
                                   "integer"))
        if seq > n:
            raise Tampered(Problem(
                "missing_event", n,
                f"gap in sequence: event {n} is missing or moved (event {seq} is in its "
                "place)"))
        raise Tampered(Problem(
            "out_of_sequence", seq,
            f"event {seq} appears again after event {n - 1} (reordered or duplicated)"))

    def _node(self, level: int, idx: int, computed: bytes) -> None:
        it = self.level_iters.get(level)
        if it is None:
            assert self.nodes is not None
            it = self.level_iters[level] = iter(self.nodes.scan(level))
        stored = next(it, None)
        if stored is not None and stored[0] == idx and stored[1] == computed:
            self.report.nodes += 1
            return
        first = idx << level
        if stored is None or stored[0] > idx:
            raise Tampered(Problem(
                "node_missing", first,
                f"stored node at level {level}, index {idx} (events {_span(level, idx)}) "
                "is missing"))
        if stored[0] != idx:
            raise Tampered(Problem(
                "node_extra", first, f"unexpected stored node at level {level}, index "
                f"{stored[0]}"))
        raise Tampered(Problem(
            "node_mismatch", first,
            f"stored node at level {level}, index {idx} differs from the hash of events "
            f"{_span(level, idx)} (node altered, or those events rewritten)"))

    def _other(self, rec: SignedHead | Head, n: int, stack: list[bytes]) -> None:
        if self.head is not None:
            raise Tampered(Problem("malformed", None, f"data after the end record ({rec})"))
        if isinstance(rec, Head):
            self.head = rec
        elif isinstance(rec, SignedHead):
            self._tree_head(rec, n, stack)
        else:
            raise CannotVerify(f"unknown record {rec!r}")

    def _tree_head(self, sth: SignedHead, n: int, stack: list[bytes], kind: str = "") -> None:
        if sth.size > n:
            raise Tampered(Problem(
                "missing_event", n,
                f"event {n} is missing: the {kind}tree head signed at {sth.timestamp} covers "
                f"events [0, {sth.size}) but the ledger has only events [0, {n}) there"))
        if sth.size < n:
            raise Tampered(Problem(
                "misplaced_tree_head", None,
                f"the signed tree head for size {sth.size} comes after event {n - 1}"))
        if self.public_key is None:
            raise CannotVerify("no public key to check the signed tree heads with")
        if sth.key_id != self.key_id:
            raise Tampered(Problem(
                "sth_unknown_key", None,
                f"the {kind}tree head at size {sth.size} names key {sth.key_id!r}, not the "
                f"platform key {self.key_id!r}"))
        root = frontier_root(stack).hex()
        message = sth_message(sth.size, sth.root, sth.timestamp)
        lo = self.report.last_signed or 0
        since = (f"since the last matching signed tree head (size {lo})"
                 if self.report.last_signed is not None else "(no earlier signed tree head)")
        if not verify_signature(self.public_key, message, sth.signature):
            matches = "matches" if root == sth.root else "does not match"
            raise Tampered(Problem(
                "sth_signature_invalid", None,
                f"the signature of the {kind}tree head at size {sth.size} does not verify: its "
                f"size, root, timestamp or signature was altered (its root {matches} events "
                f"[0, {sth.size}); events [{lo}, {sth.size}) {since} are unproven)"))
        if root != sth.root:
            raise Tampered(Problem(
                "sth_root_mismatch", lo,
                f"an event in [{lo}, {sth.size}) was altered, removed or reordered {since}: "
                f"the {kind}tree head signed at {sth.timestamp} for size {sth.size} has root "
                f"{sth.root}, the events give {root}"))
        self.report.tree_heads += 1
        self.report.last_signed = sth.size

    def _trusted(self, n: int, stack: list[bytes]) -> int:
        """Check the trusted heads due at size n; return the size the next one is due at."""
        while self.trusted and self.trusted[-1].size == n:
            self._tree_head(self.trusted.pop(), n, stack, "trusted ")
        return self.trusted[-1].size if self.trusted else -1

    def _finish(self, n: int, stack: list[bytes]) -> None:
        root = frontier_root(stack).hex()
        for claim in self.expect:
            if claim.size != n:
                raise Tampered(Problem(
                    "head_mismatch", min(claim.size, n),
                    f"the {claim.source} says {claim.size} events, the ledger holds {n}"))
            if claim.root is not None and claim.root != root:
                raise Tampered(Problem(
                    "head_mismatch", None,
                    f"the {claim.source} says root {claim.root}, the events give {root}"))
        if self.trusted:
            sth = self.trusted[-1]
            raise Tampered(Problem(
                "missing_event", n,
                f"event {n} is missing: the trusted tree head signed at {sth.timestamp} covers "
                f"events [0, {sth.size}) but the ledger ends after {n} events"))
        head = self.head
        if head is not None:
            if head.size > n:
                raise Tampered(Problem(
                    "missing_event", n,
                    f"event {n} is missing: the {head.source} records {head.size} events, "
                    f"the ledger ends after {n}"))
            if head.size < n:
                raise Tampered(Problem(
                    "head_mismatch", head.size,
                    f"the {head.source} records {head.size} events but there are {n}"))
            if head.frontier is not None and head.frontier != [h.hex() for h in stack]:
                raise Tampered(Problem(
                    "head_mismatch", None,
                    f"the {head.source}'s frontier differs from the tree over the events"))
            if head.root is not None and head.root != frontier_root(stack).hex():
                raise Tampered(Problem(
                    "head_mismatch", None,
                    f"the {head.source}'s root {head.root} differs from the events' root"))
        if self.nodes is not None:
            for level in sorted(self.nodes.levels()):
                it = self.level_iters.get(level)
                if it is None:
                    it = iter(self.nodes.scan(level))
                for idx, _hash in it:
                    end = (idx + 1) << level
                    if end > n:
                        raise Tampered(Problem(
                            "missing_event", n,
                            f"event {n} is missing: a stored node at level {level}, index "
                            f"{idx} covers events {_span(level, idx)}"))
                    raise Tampered(Problem(
                        "node_extra", idx << level,
                        f"unexpected stored node at level {level}, index {idx}"))
        if self.require_signed and self.report.last_signed != n:
            lo = self.report.last_signed
            raise Tampered(Problem(
                "unsigned_end", lo or 0,
                f"no signed tree head covers the end of the ledger: events [{lo or 0}, {n}) "
                + ("come after the last signed tree head" if lo is not None
                   else "are covered by no signed tree head at all")
                + " (tree heads removed, or the tail rewritten)"))


def verify(
    records: Iterable[Record], *, public_key: str | None, nodes: NodeSource | None = None,
    trusted: Iterable[SignedHead] = (), progress: Callable[[int], None] | None = None,
    expect: Iterable[Head] = (), require_signed: bool = False,
) -> Report:
    """Check a ledger given as a record stream; the report's `problem` is the first found.

    `trusted` are signed tree heads kept outside the ledger (say, fetched from the API
    earlier): a ledger shorter than one of them, or not matching it, fails. `expect` are
    further claims of its size and root (an export's header) that must hold.
    `require_signed`: fail unless a signed tree head covers the last event.
    Raises CannotVerify when the input cannot be checked at all (e.g. no public key, or a
    public key that is no Ed25519 key).
    """
    if require_signed and public_key is None:
        raise CannotVerify("no public key to check the signed tree heads with")
    verifier = _Verifier(public_key, nodes, trusted, expect, require_signed)
    try:
        verifier.run(records, progress)
    except Tampered as found:
        verifier.report.problem = found.problem
    return verifier.report


def _b64(text: str) -> bytes:
    try:
        return check_public_key(text)
    except InvalidPublicKey as exc:
        raise CannotVerify(str(exc)) from exc


def _key_id_or_none(text: object) -> str | None:
    try:
        return key_id_of(check_public_key(text))  # type: ignore[arg-type]
    except InvalidPublicKey:
        return None


def signed_head_from_json(obj: dict[str, Any]) -> SignedHead:
    """A tree head as the API serves it (GET /ledger/tree-head), kept by an auditor."""
    try:
        stamp = obj["timestamp"]
        ts = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return SignedHead(size=int(obj["size"]), root=str(obj["root"]),
                          timestamp=format_ts(ts if ts.tzinfo else ts.replace(tzinfo=UTC)),
                          signature=str(obj["signature"]), key_id=str(obj["key_id"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CannotVerify(f"not a signed tree head: {exc}") from exc


# -- export files ---------------------------------------------------------------------------


def open_text(path: Path, mode: str = "rt", *, gz: bool | None = None) -> IO[str]:
    """Export files are JSON lines, gzip-compressed when the name ends in .gz."""
    if path.suffix == ".gz" if gz is None else gz:
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


@dataclass(frozen=True)
class ExportHeader:
    size: int
    public_key: str | None
    key_id: str | None
    raw: dict[str, Any]
    version: int = EXPORT_VERSION
    root: str | None = None


def read_header(line: str) -> ExportHeader:
    try:
        header = json.loads(line)
        if header.get("format") != EXPORT_FORMAT:
            raise CannotVerify("not a shugu ledger export")
        if header.get("version") not in READABLE_VERSIONS:
            raise CannotVerify(f"unsupported export version {header.get('version')!r}")
        if header.get("sth_message") != STH_VERSION:
            raise CannotVerify(f"unsupported tree head message {header.get('sth_message')!r}")
        size, root = header["size"], header.get("root")
        if type(size) is not int or (root is not None and not isinstance(root, str)):
            raise ValueError("size must be an integer and root a hex string")
        return ExportHeader(size=size, public_key=header.get("public_key"),
                            key_id=header.get("key_id"), raw=header,
                            version=header["version"], root=root)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CannotVerify(f"unreadable export header ({exc})") from exc


def export_records(lines: Iterable[str], first_line: int = 2) -> Iterator[Record]:
    """The records of an export file after its header (see export.py for the format)."""
    loads = json.loads
    lineno = first_line - 1
    ended = False
    try:
        for lineno, line in enumerate(lines, start=first_line):  # noqa: B007 - used below
            obj = loads(line)
            kind = obj["t"]
            if kind == "e":
                leaf = obj["leaf_hash"]
                leaf_bytes = None if leaf is None else bytes.fromhex(leaf)
                if "actor" in obj:  # a version-1 file: every event of version 1, opened
                    yield (obj["seq"], obj["ts"], obj["action"], obj["subject"], None,
                           leaf_bytes, obj["actor"], obj["subject"], obj["payload"], None,
                           obj["payload_sha256"])
                    continue
                o = obj.get("opening")
                if o is None:
                    yield (obj["seq"], obj["ts"], obj["action"], obj["subject"],
                           obj.get("commitment"), leaf_bytes, None, None, None, None, None)
                else:
                    yield (obj["seq"], obj["ts"], obj["action"], obj["subject"],
                           obj.get("commitment"), leaf_bytes, o["actor"], o["subject"],
                           o["payload_json"], o.get("salt"), o.get("payload_sha256"))
            elif kind == "sth":
                yield SignedHead(size=int(obj["size"]), root=str(obj["root"]),
                                 timestamp=str(obj["timestamp"]),
                                 signature=str(obj["signature"]), key_id=str(obj["key_id"]))
            elif kind == "end":
                ended = True
                root = obj["root"]
                yield Head(size=int(obj["size"]), root=root if isinstance(root, str) else None,
                           source="export's end record")
            else:
                raise ValueError(f"unknown record type {kind!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem("malformed", None, f"line {lineno} is unreadable ({exc})")
        raise Tampered(problem) from exc
    except (OSError, EOFError) as exc:  # a damaged or cut-off gzip stream
        problem = Problem("truncated", None, f"the file breaks off after line {lineno} ({exc})")
        raise Tampered(problem) from exc
    if not ended:
        raise Tampered(Problem("truncated", None,
                               "the file ends without its end record (truncated)"))


def verify_file(
    path: Path, *, public_key: str | None = None, trusted: Iterable[SignedHead] = (),
    progress: Callable[[int], None] | None = None,
    on_header: Callable[[ExportHeader], None] | None = None,
) -> Report:
    """Verify an export file. `public_key` pins the key; else the file's own one is used.

    A file must end in its end record, its header and end record must agree with the
    events (size, root), and a signed tree head must cover its last event: a file without
    one proves nothing against a consistent rewrite.
    """
    if public_key is not None:
        _b64(public_key)  # blame a nonsense key before reading anything
    try:
        fh = open_text(path)
    except OSError as exc:
        raise CannotVerify(f"cannot open {path}: {exc}") from exc
    with fh:
        try:
            first = fh.readline()
        except (OSError, UnicodeError) as exc:
            raise CannotVerify(f"cannot read {path}: {exc}") from exc
        header = read_header(first)
        if on_header is not None:
            on_header(header)
        claims = [Head(size=header.size, root=header.root, source="export's header")]
        key = public_key or header.public_key
        if key is not None and public_key is None:
            try:
                check_public_key(key)
            except InvalidPublicKey as exc:
                raise CannotVerify(f"the file's own key is unusable ({exc}); give the "
                                   "platform key with --public-key") from exc
        if header.key_id is not None and header.public_key is not None \
                and _key_id_or_none(header.public_key) != header.key_id:
            report = Report()
            report.problem = Problem("head_mismatch", None, "the export's header names key "
                                     f"id {header.key_id!r}, not its public key's")
            return report
        report = verify(export_records(fh), public_key=key, trusted=trusted,
                        progress=progress, expect=claims, require_signed=True)
        if public_key and header.public_key and header.public_key != public_key:
            report.notes.append("the file names a different public key than the pinned one")
        return report
