"""A real process killed with SIGKILL during an ingest leaves no visible trace.

The child process opens the same exchange (SQLite file or PostgreSQL database) and ingests a
file that is large enough to take a moment; the test kills it either while the Delta write
is streaming, or after its Delta commit but before its database commit (the test holds the
table's row lock, so the child waits exactly there).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from deltalake import DeltaTable
from sqlalchemy import select

from shugu.catalog.models import DataTable
from shugu.runtime import Exchange
from tests.catalog.test_ingest_service import Shelf, make_provider

CHILD = r"""
import json, sys
from pathlib import Path
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.config import Settings
from shugu.identity.principal import Principal
from shugu.runtime import Exchange

args = json.loads(sys.argv[1])
ex = Exchange.open(Settings(data_dir=args["data_dir"], database_url=args["db_url"]),
                   migrate=False)
who = Principal(**{**args["principal"], "org_roles": tuple(args["principal"]["org_roles"])})
print("ready", flush=True)
sys.stdin.readline()
ingest_file(ex, who, args["slug"], "t", Path(args["path"]), mode="append",
            options=IngestOptions(), source_name="big.csv",
            progress=lambda n: print("read", n, flush=True))
print("done", flush=True)
"""

@pytest.fixture
def shelf(exchange: Exchange, tmp_path: Path) -> Shelf:
    return Shelf(exchange, make_provider(exchange), tmp_path)


ROW = b"1234567,orphan row that must never be seen,3.14159\n"


class Child:
    def __init__(self, shelf: Shelf, path: Path) -> None:
        settings = shelf.ex.settings
        args = {"data_dir": str(settings.data_dir), "db_url": settings.database_url,
                "principal": asdict(shelf.who), "slug": shelf.slug, "path": str(path)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(args)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.next_line() == "ready"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("<eof>")

    def next_line(self, timeout: float = 120) -> str:
        line = self.lines.get(timeout=timeout)
        assert line not in ("<eof>", "done"), f"child ended early: {line}"
        return line

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL


def files_of(table_dir: Path) -> set[str]:
    return {p.relative_to(table_dir).as_posix() for p in table_dir.rglob("*.parquet")
            if "_delta_log" not in p.parts}


def referenced(table_dir: Path, versions: range) -> set[str]:
    found: set[str] = set()
    for v in versions:
        actions = DeltaTable(str(table_dir), version=v).get_add_actions(flatten=True)
        found |= set(actions.column("path").to_pylist())
    return found


@pytest.mark.parametrize("moment", ["while writing", "after the delta commit"])
def test_sigkill_during_ingest_leaves_nothing_visible(shelf: Shelf, tmp_path: Path,
                                                      moment: str) -> None:
    shelf.table()
    shelf.ingest("id,note,x\n1,kept,1.0\n")
    before = shelf.snapshot()
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:
        fh.write(b"id,note,x\n")
        for _ in range(12):
            fh.write(ROW * 100_000)  # ~60 MB: long enough to be caught in the act
    table_dir = shelf.delta_dir()
    child = Child(shelf, big)
    try:
        if moment == "while writing":
            child.go()
            pending = table_dir.parent / f".{table_dir.name}.pending"  # set as the write starts
            deadline = time.monotonic() + 120
            while not pending.exists():
                assert time.monotonic() < deadline and child.proc.poll() is None
                time.sleep(0.005)
            child.kill()
            assert not (table_dir / "_delta_log" / f"{1:020d}.json").exists()
        else:
            with shelf.ex.transaction() as s:
                # Hold the row the child must lock to publish; it waits right there.
                s.execute(select(DataTable).where(DataTable.name == "t").with_for_update())
                child.go()
                deadline = time.monotonic() + 120
                while not (table_dir / "_delta_log" / f"{1:020d}.json").exists():
                    assert time.monotonic() < deadline and child.proc.poll() is None
                    time.sleep(0.02)
                child.kill()
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
    assert shelf.snapshot()[:5] == before[:5]  # version, rows, schema, ledger, ingests
    assert shelf.data().column("note").to_pylist() == ["kept"]

    out = shelf.ingest("id,note,x\n2,after,2.0\n")
    assert out.version == 1
    assert sorted(shelf.data().column("note").to_pylist()) == ["after", "kept"]
    assert DeltaTable(str(table_dir)).version() == 1
    # Every data file left is one a published version refers to: the orphans are gone.
    assert files_of(table_dir) == referenced(table_dir, range(2))
