"""存证 fingerprints: a Merkle root over the data files of a set of Delta table versions.

Pure functions over directories, shared by the server and the offline `shugu fingerprint`.

For each table, the data files are those the Delta log names as active (add actions) at
the chosen version, read with deltalake; the log itself and files of other versions are
not part of the fingerprint. Each file contributes one leaf; leaves are ordered by table
name, then by path relative to the table directory (both compared as Unicode code points,
the order of UTF-8 bytes). A leaf's bytes are

    "shugu-fp-v1" 0x00 table 0x00 path 0x00 size (8 bytes, big-endian) sha256 (32 bytes)

with table and path in UTF-8; the root is the RFC 6962 Merkle tree hash over the leaves
(leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right); no files: the
SHA-256 of the empty string).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from shugu.ledger.merkle import frontier_append, frontier_root, leaf_hash

ALGORITHM = "shugu-fp-v1/rfc6962-sha256"
_PREFIX = b"shugu-fp-v1\x00"
_CHUNK = 1024 * 1024


class FingerprintError(Exception):
    """A table cannot be read at the wanted version, or a data file is missing."""


@dataclass(frozen=True)
class FileLeaf:
    table: str
    path: str
    size: int
    sha256: str

    def leaf_bytes(self) -> bytes:
        return (_PREFIX + self.table.encode() + b"\x00" + self.path.encode() + b"\x00"
                + self.size.to_bytes(8, "big") + bytes.fromhex(self.sha256))

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "path": self.path, "size": self.size,
                "sha256": self.sha256}


@dataclass(frozen=True)
class Result:
    root: str
    table_versions: dict[str, int]
    files: list[FileLeaf]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": ALGORITHM, "root": self.root, "table_versions": self.table_versions,
                "file_count": len(self.files), "total_bytes": self.total_bytes,
                "files": [f.to_json() for f in self.files]}


def merkle_root(leaves: list[bytes]) -> str:
    frontier: list[bytes] = []
    for i, data in enumerate(leaves):
        frontier, _ = frontier_append(frontier, i, leaf_hash(data))
    return frontier_root(frontier).hex()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def active_files(table_dir: Path, version: int | None) -> tuple[int, list[tuple[str, int]]]:
    """(version read, [(relative path, size from the log)]) of a Delta table."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        table = DeltaTable(str(table_dir), version=version)
    except TableNotFoundError as exc:
        raise FingerprintError(f"{table_dir} is not a Delta table") from exc
    except (DeltaError, OSError, ValueError) as exc:
        raise FingerprintError(f"cannot read {table_dir} at version {version}: {exc}") from exc
    actions = table.get_add_actions(flatten=True)
    paths = actions.column("path").to_pylist()
    sizes = actions.column("size_bytes").to_pylist()
    return int(table.version()), [(unquote(p), int(s)) for p, s in zip(paths, sizes,
                                                                      strict=True)]


def compute(tables: dict[str, tuple[Path, int | None]],
            progress: Callable[[int], None] | None = None) -> Result:
    """Fingerprint {table name: (Delta table directory, version or None for the latest)}."""
    leaves: list[FileLeaf] = []
    versions: dict[str, int] = {}
    for name in sorted(tables):
        table_dir, wanted = tables[name]
        version, files = active_files(table_dir, wanted)
        versions[name] = version
        for rel, size in sorted(files):
            path = table_dir / rel
            try:
                actual = path.stat().st_size
                digest = sha256_file(path)
            except OSError as exc:
                raise FingerprintError(f"table {name!r}: cannot read data file {rel}: "
                                       f"{exc.strerror or exc}") from exc
            if actual != size:
                # Hash what is there; the size in the leaf is the file's, so a truncated
                # copy yields a different root rather than a silently matching one.
                size = actual
            leaves.append(FileLeaf(name, rel, size, digest))
            if progress is not None:
                progress(size)
    root = merkle_root([leaf.leaf_bytes() for leaf in leaves])
    return Result(root=root, table_versions=versions, files=leaves)


def local_tables(root_dir: Path) -> dict[str, Path]:
    """A local copy: one sub-directory per table, each with a _delta_log; or a single table."""
    if (root_dir / "_delta_log").is_dir():
        return {root_dir.name: root_dir}
    found = {p.name: p for p in sorted(root_dir.iterdir())
             if p.is_dir() and (p / "_delta_log").is_dir()}
    if not found:
        raise FingerprintError(f"{root_dir} holds no Delta table (no _delta_log directory in "
                               "it or in any sub-directory)")
    return found
