"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class OpeningOut(BaseModel):
    """An event's private fields: shown to its parties, the operator and auditors."""

    actor: str
    subject: str = Field(description="the full subject (the public form may blind names)")
    payload: dict[str, Any]
    payload_json: str = Field(description="the exact canonical JSON text committed to")
    salt: str | None = Field(default=None, description="version 2: the commitment's salt")
    payload_sha256: str | None = Field(
        default=None, description="version 1: the unsalted payload hash in the leaf")


class EventOut(BaseModel):
    seq: int
    ts: datetime
    action: str
    subject: str = Field(description="the public subject: names of products and tables "
                         "are blinded as `product:~`")
    version: int = Field(description="leaf version: 2 commits to the public form and a "
                         "salted commitment; 1 (events from before) to actor, subject and "
                         "payload hash")
    commitment: str | None = Field(default=None, description="version 2: hex SHA-256 of "
                                   "the opening (actor, subject, payload, salt)")
    leaf_hash: str = Field(description="hex RFC 6962 leaf hash")
    opening: OpeningOut | None = Field(default=None, description="present only for the "
                                       "event's parties, the operator and auditors")

    # Shorthands for the SDK user reading their own events (None when not disclosed).
    @property
    def payload(self) -> dict[str, Any] | None:
        return self.opening.payload if self.opening is not None else None

    @property
    def actor(self) -> str | None:
        return self.opening.actor if self.opening is not None else None


class SignedTreeHead(BaseModel):
    size: int
    root: str = Field(description="hex Merkle tree hash over the first `size` events")
    timestamp: datetime
    signature: str = Field(description="base64 Ed25519 signature over the tree head message")
    key_id: str
    public_key: str = Field(description="base64 raw Ed25519 public key")


class InclusionProof(BaseModel):
    seq: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root: str


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class PublicKey(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key: str


class PublicEvent(BaseModel):
    """An event's public form, timestamp as hashed (UTC YYYY-MM-DDTHH:MM:SS.ffffffZ)."""

    seq: int
    ts: str
    action: str
    subject: str
    commitment: str | None = None
    leaf_hash: str


class OpeningItem(BaseModel):
    event: PublicEvent
    opening: dict[str, str] = Field(description="{actor, subject, payload_json[, salt]}")
    audit_path: list[str]


class BundleTreeHead(BaseModel):
    size: int
    root: str
    timestamp: str = Field(description="exactly as signed")
    signature: str
    key_id: str
    public_key: str


class OpeningBundle(BaseModel):
    """Openings with their events and inclusion proofs to one signed tree head: what a
    party hands an auditor, verifiable offline (`shugu ledger verify-openings`)."""

    format: str = "shugu-ledger-openings/1"
    tree_head: BundleTreeHead
    items: list[OpeningItem]
    next_page_token: str | None = None


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class BundleVerdict(BaseModel):
    ok: bool
    checks: list[CheckOut]
