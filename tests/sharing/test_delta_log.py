"""Log replay against deltalake's own reading, across checkpoints and removes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from shugu.sharing.delta_log import DeltaLog


def files_per_deltalake(path: Path, version: int) -> set[str]:
    uris = DeltaTable(str(path), version=version).file_uris()
    root = path.resolve().as_uri().removeprefix("file://") + "/"
    return {unquote(u.removeprefix("file://")).removeprefix(root) for u in uris}


def test_snapshots_match_deltalake_across_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "t"
    for i in range(12):
        write_deltalake(str(path), pa.table({"i": [i, i + 100], "p": ["a", "b"]}),
                        mode="append", partition_by=["p"])
        if i == 5:
            DeltaTable(str(path)).create_checkpoint()
    DeltaTable(str(path)).delete("i = 3")  # version 12: removes and re-adds
    assert any(p.name.endswith(".checkpoint.parquet") for p in (path / "_delta_log").iterdir())
    for version in (0, 4, 5, 6, 11, 12, 3):  # out of order: cached bases in both directions
        log = DeltaLog()
        fresh = {f.path for f in log.snapshot(path, version).files}
        assert fresh == files_per_deltalake(path, version), version
    shared = DeltaLog()  # one cache, incremental builds
    for version in range(13):
        got = {f.path for f in shared.snapshot(path, version).files}
        assert got == files_per_deltalake(path, version), version
    snap = shared.snapshot(path, 12)
    assert snap.partition_columns == ["p"]
    assert all(f.stats and f.num_records() for f in snap.files)
    from_checkpoint = DeltaLog().snapshot(path, 6)  # files of versions 0-5 come from it
    assert all(f.stats and f.num_records() for f in from_checkpoint.files)
    assert from_checkpoint.metadata["partitionColumns"] == ["p"]
    assert all(f.partition_values["p"] in ("a", "b") for f in from_checkpoint.files)
