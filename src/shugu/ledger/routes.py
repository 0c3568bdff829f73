"""REST endpoints of the ledger (being filled in by the ledger work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ledger", tags=["ledger"])
