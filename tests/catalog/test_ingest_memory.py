"""Ingestion streams: a 2 GB CSV goes in with well under 1 GB of resident memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

SIZE = 2 * 1024**3
LIMIT_KB = 1024 * 1024  # 1 GiB

# Run in a child so that its peak RSS (VmHWM) measures the ingest alone.
CHILD = r"""
import json, sys
from pathlib import Path
from deltalake import DeltaTable
from shugu.catalog import products, schemas
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.config import Settings
from shugu.runtime import Exchange
from tests.catalog.test_ingest_service import make_provider

ex = Exchange.open(Settings(data_dir=sys.argv[1]))
who = make_provider(ex)
with ex.transaction() as s:
    table = products.create_table(s, who, "power-use", schemas.TableIn(name="big"))
out = ingest_file(ex, who, "power-use", "big", Path(sys.argv[2]), mode="append",
                  options=IngestOptions(), source_name="big.csv")
status = open("/proc/self/status").read().splitlines()
hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
rows = DeltaTable(str(ex.settings.tables_dir / table.location)).count()
print(json.dumps({"rows": out.rows, "bytes": out.source_bytes, "delta_rows": rows,
                  "hwm_kb": hwm}))
"""


def write_big_csv(path: Path, size: int) -> int:
    """A CSV of at least `size` bytes, fast: one realistic block written over and over."""
    rng = np.random.default_rng(7)
    n = 200_000
    block = pa.table({
        "id": np.arange(n),
        "企业名称": np.array(["浙江电网公司", "杭州银行股份有限公司", "宁波港集团"])[
            rng.integers(0, 3, n)],
        "用电量": rng.integers(0, 10**7, n),
        "单价": np.round(rng.random(n), 4),
        "day": pa.array(np.datetime64("2020-01-01")
                        + rng.integers(0, 1800, n).astype("timedelta64[D]")),
    })
    rows = 0
    with open(path, "wb") as sink, pacsv.CSVWriter(sink, block.schema) as writer:
        while sink.tell() < size:
            writer.write_table(block)
            rows += n
    return rows


@pytest.mark.slow
def test_a_2gb_csv_ingests_in_under_1gb_of_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    try:
        rows = write_big_csv(big, SIZE)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path / "data"), str(big)],
            capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[2])
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["rows"] == result["delta_rows"] == rows
        assert result["bytes"] == big.stat().st_size >= SIZE
        assert result["hwm_kb"] < LIMIT_KB, f"peak RSS {result['hwm_kb'] // 1024} MB"
    finally:
        big.unlink(missing_ok=True)
