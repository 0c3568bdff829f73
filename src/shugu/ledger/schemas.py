"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    seq: int
    ts: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    payload_sha256: str
    leaf_hash: str = Field(description="hex RFC 6962 leaf hash")


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
