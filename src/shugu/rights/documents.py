"""Proof documents on disk: content-addressed under <data dir>/rights/documents/."""

from __future__ import annotations

import os
from pathlib import Path

from shugu.catalog.ingest.source import hash_file
from shugu.config import Settings


def documents_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir() / "rights" / "documents"


def store(settings: Settings, upload: Path) -> tuple[str, int]:
    """Hash an uploaded file and move it to its content address; (sha256, size)."""
    sha, size = hash_file(upload)
    target = documents_dir(settings) / sha[:2] / sha
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # the same bytes uploaded before
        upload.unlink(missing_ok=True)
    else:
        os.replace(upload, target)
    return sha, size


def path_of(settings: Settings, sha256: str) -> Path:
    return documents_dir(settings) / sha256[:2] / sha256
