"""Fingerprint (存证): hashing a revision's Delta data files, against plain hashing.

    .venv/bin/python bench/fingerprint.py [--mb 512] [--files 64] [--rounds 3]

Builds (once, cached under bench/out/) a Delta table of about --mb megabytes in --files
data files, then times in alternating rounds:
  baseline  hashlib.sha256 over every data file listed in the directory (what
            `sha256sum part-*` does; no Delta log, no tree)
  shugu     `shugu.rights.fingerprint.compute` on the table at its latest version (reads
            the Delta log with deltalake, hashes each active file, builds the RFC 6962 tree)
and prints MB/s for each and the ratio. Target: shugu within 1.1x of the baseline — the log
and the tree must cost next to nothing beside the hashing itself.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from shugu.rights import fingerprint as fp

OUT = Path(__file__).parent / "out" / "fingerprint"


def build(mb: int, files: int) -> Path:
    table_dir = OUT / f"t{mb}x{files}" / "data"
    if (table_dir / "_delta_log").is_dir():
        return table_dir
    rows = mb * 1024 * 1024 // 16 // files
    rng = np.random.default_rng(7)
    for i in range(files):
        # Random numbers do not compress, so the files on disk are as large as asked.
        batch = pa.table({"a": rng.integers(0, 2**62, rows), "b": rng.random(rows)})
        write_deltalake(str(table_dir), batch, mode="append")
        print(f"\rbuilding {i + 1}/{files}", end="", flush=True)
    print()
    return table_dir


def baseline(table_dir: Path) -> int:
    total = 0
    for path in sorted(table_dir.glob("*.parquet")):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        total += path.stat().st_size
    return total


def shugu(table_dir: Path) -> int:
    return fp.compute({"data": (table_dir, None)}).total_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    table_dir = build(args.mb, args.files)
    times: dict[str, list[float]] = {"baseline": [], "shugu": []}
    size = 0
    for _ in range(args.rounds):
        for name, fn in (("baseline", baseline), ("shugu", shugu)):
            start = time.perf_counter()
            size = fn(table_dir)
            times[name].append(time.perf_counter() - start)
    mb = size / 1e6
    base, ours = statistics.median(times["baseline"]), statistics.median(times["shugu"])
    print(f"{mb:.0f} MB in {args.files} files, median of {args.rounds} rounds")
    print(f"baseline (sha256 of the files): {base:.2f} s, {mb / base:.0f} MB/s")
    print(f"shugu fingerprint:              {ours:.2f} s, {mb / ours:.0f} MB/s")
    print(f"ratio shugu/baseline: {ours / base:.2f}x (target <= 1.1x)")


if __name__ == "__main__":
    main()
