"""存证: the server's fingerprint of a revision, and the offline CLI reproducing it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from shugu.client import Client
from shugu.rights import fingerprint as fp
from shugu.runtime import Exchange
from tests.conftest import Orgs
from tests.rights.conftest import api_error, product_dir

SHUGU = [sys.executable, "-m", "shugu.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHUGU, *args], capture_output=True, text=True, timeout=120)


def test_record_is_idempotent_public_and_on_the_ledger(
        provider: Client, consumer: Client, orgs: Orgs, product: str,
        exchange: Exchange) -> None:
    assert api_error(lambda: provider.fingerprint(product, 1)).code == "fingerprint_not_found"
    first = provider.record_fingerprint(product, 1)
    assert first.table_versions == {"districts": 0, "monthly": 1}
    assert first.file_count == len(first.files) == 3
    assert [(f.table, f.path) for f in first.files] == sorted((f.table, f.path)
                                                              for f in first.files)
    tables = product_dir(exchange)
    for f in first.files:
        data = (tables / f.table / f.path).read_bytes()
        assert f.sha256 == hashlib.sha256(data).hexdigest() and f.size == len(data)
    assert first.total_bytes == sum(f.size for f in first.files)
    # The root follows the documented leaf bytes.
    leaves = [fp.FileLeaf(f.table, f.path, f.size, f.sha256).leaf_bytes() for f in first.files]
    assert first.root == fp.merkle_root(leaves)
    again = provider.record_fingerprint(product, 1)
    assert again.root == first.root and again.ledger_seq == first.ledger_seq
    # Anyone may read it; only the provider records it.
    assert consumer.fingerprint(product, 1).root == first.root
    assert api_error(lambda: consumer.record_fingerprint(product, 1)).code == \
        "not_product_owner"
    assert api_error(lambda: provider.record_fingerprint(product, 9)).code == \
        "revision_not_found"
    events = provider.events(action="fingerprint.recorded").items
    assert len(events) == 1 and events[0].payload["root"] == first.root
    # The provider, a party, reads the full subject; the public sees the slug blinded.
    assert events[0].opening is not None
    assert events[0].opening.subject == f"product:{product}/revision:1"
    assert events[0].subject == "product:~/revision:1"
    # A revoked revision is not fingerprinted.
    provider.publish_revision(product, "again")
    provider.revoke_revision(product, 2, "mistake")
    assert api_error(lambda: provider.record_fingerprint(product, 2)).code == \
        "revision_revoked"


def test_cli_reproduces_the_root_from_a_copy_and_detects_one_changed_byte(
        provider: Client, product: str, exchange: Exchange, tmp_path: Path) -> None:
    server = provider.record_fingerprint(product, 1)
    copy = tmp_path / "copy"
    shutil.copytree(product_dir(exchange), copy)
    manifest = tmp_path / "fp.json"
    manifest.write_text(server.model_dump_json(), "utf-8")
    ok = run("fingerprint", str(copy), "--expect", str(manifest))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert server.root in ok.stdout
    pinned = run("--json", "fingerprint", str(copy), "--version", "monthly=1",
                 "--version", "districts=0", "--expect", server.root)
    assert pinned.returncode == 0, pinned.stderr
    assert json.loads(pinned.stdout)["root"] == server.root
    # Reading an older version of a table gives another root: exit 1.
    older = run("fingerprint", str(copy), "--version", "monthly=0", "--expect", server.root)
    assert older.returncode == 1 and "expected" in older.stderr
    # One byte changed in one data file.
    victim = copy / server.files[-1].table / server.files[-1].path
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    bad = run("fingerprint", str(copy), "--expect", str(manifest))
    assert bad.returncode == 1
    assert f"differs: {server.files[-1].table}/{server.files[-1].path}" in bad.stderr
    changed = run("--json", "fingerprint", str(copy), "--expect", str(manifest))
    assert json.loads(changed.stdout)["root"] != server.root
    # Not a Delta directory at all: exit 2.
    (tmp_path / "empty").mkdir()
    assert run("fingerprint", str(tmp_path / "empty")).returncode == 2
    assert run("fingerprint", str(copy), "--expect", "nonsense").returncode == 2
