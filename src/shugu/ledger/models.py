"""The ledger's tables: events (leaves), stored subtree hashes, the head and signed tree heads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime


class LedgerEvent(Base):
    """One event. Public: seq, ts, action, public_subject, commitment, leaf_hash. Private
    (its opening, for the parties, operators and auditors): actor, subject, payload, salt.

    Events from before commitments (leaf version 1) have no commitment nor salt; their
    leaf is over actor, subject and payload_hash (see events.py).
    """

    __tablename__ = "ledger_events"

    # 0-based leaf index in the Merkle tree.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    public_subject: Mapped[str] = mapped_column(String(300), index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    # Version 1 only: the unsalted payload hash its leaf commits to.
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    commitment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    @property
    def version(self) -> int:
        return 1 if self.commitment is None else 2


class LedgerParty(Base):
    """An organisation an event concerns: it (and overseers) may read the event's opening."""

    __tablename__ = "ledger_event_parties"

    org_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class LedgerNode(Base):
    """Hash of the perfect subtree covering leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "ledger_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerHead(Base):
    """Single row: the current size and the frontier, the roots of the tree's perfect subtrees.

    Writers lock this row, which serialises appends into one total order.
    """

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[list[str]] = mapped_column(JSON)  # hex hashes, largest subtree first


class TreeHead(Base):
    """A signed tree head (STH): the platform key's signature over (size, root, timestamp)."""

    __tablename__ = "ledger_tree_heads"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(64))
