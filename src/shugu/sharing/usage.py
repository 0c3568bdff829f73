"""Metering of Delta Sharing: each query and each byte served, tied to the entitlement.

A query (/query or /changes) is authorised, debited, recorded and written to the ledger in
one write transaction, after its answer has been computed and before it is sent: a revoked
entitlement or an exhausted quota refuses the query, and no answer leaves unaccounted. Each
such answer is one query and one *download* (it hands out the file URLs of a table's data),
plus the rows its files hold; the entitlement charged is chosen in that transaction
(`entitlements.debit_live`: room first, cheapest for the consumer next), and its id is the
one the answer's file URLs carry, so the bytes read through them are charged to it too.

File bytes of a Range request are debited before they are sent: the client asked for
exactly that many, so the quota can refuse the request and a dropped connection is charged
for what was asked. A GET without Range is different: fsspec (the official Python client's
reader) probes whether a URL "is a file" with a plain GET and closes it after the headers,
so charging the whole file up front would bill bytes that were never sent. Such a GET is
refused up front when the quota has no room for the whole file, and charged afterwards for
the bytes actually written. Bytes are recorded per request rather than per file because
clients read one file with several Range requests.
"""

from __future__ import annotations

from typing import Any

from shugu.entitlements import service as entitlements
from shugu.errors import Forbidden
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.metering import service as metering
from shugu.runtime import Exchange
from shugu.sharing.shares import MODE, TableRef
from shugu.sharing.signer import FileGrant

QUERY_KIND = "share.query"
BYTES_KIND = "share.bytes"
ROWS_KIND = "share.rows"
DOWNLOAD_KIND = "share.download"


def charge_query(ex: Exchange, principal: Principal, ref: TableRef, *, operation: str,
                 version: int, files: int, detail: dict[str, Any], rows: int = 0) -> int:
    """Charge one answer; returns the id of the entitlement charged."""
    with ex.transaction() as s:
        e = entitlements.debit_live(s, principal.org_id, ref.product_id, MODE, queries=1,
                                    rows=rows, downloads=1)
        payload = {"operation": operation, "table": ref.name, "version": version,
                   "files": files, "rows": rows, "entitlement_id": e.id, **detail}
        metering.record(s, e, QUERY_KIND, 1, payload)
        metering.record(s, e, DOWNLOAD_KIND, 1, {"operation": operation, "table": ref.name,
                                                 "version": version, "files": files})
        if rows:
            metering.record(s, e, ROWS_KIND, rows, {"table": ref.name, "version": version})
        ledger.append(s, actor=principal.actor, action=QUERY_KIND,
                      parties=[principal.org_id],
                      subject=f"product:{ref.slug}/table:{ref.name}", payload=payload)
        return e.id


def authorise_bytes(ex: Exchange, grant: FileGrant, n: int) -> None:
    """Refuse if the entitlement is no longer live; debit and record `n` bytes otherwise."""
    with ex.transaction() as s:
        e = entitlements.check_live(s, grant.entitlement_id, MODE)
        if n <= 0:
            return
        e = entitlements.debit(s, e.id, bytes=n)
        metering.record(s, e, BYTES_KIND, n, {"table_id": grant.table_id, "path": grant.path})


def authorise_stream(ex: Exchange, grant: FileGrant, n: int) -> None:
    """Before a whole-file GET: live, and room in the byte quota for all `n` bytes."""
    with ex.read() as s:
        e = entitlements.check_live(s, grant.entitlement_id, MODE)
        if e.quota_bytes is not None and e.used_bytes + n > e.quota_bytes:
            raise Forbidden("the entitlement's quota is exhausted (bytes)",
                            code="quota_exceeded", quotas=["bytes"])


def charge_sent(ex: Exchange, grant: FileGrant, n: int) -> None:
    """After a whole-file GET: what was written, even past the quota (it was authorised)."""
    if n <= 0:
        return
    with ex.transaction() as s:
        # Forced: these bytes are already sent and must be counted even if concurrent
        # requests used up the quota meanwhile.
        e = entitlements.debit(s, grant.entitlement_id, bytes=n, force=True)
        metering.record(s, e, BYTES_KIND, n, {"table_id": grant.table_id, "path": grant.path,
                                              "whole_file": True})


def check_live(ex: Exchange, grant: FileGrant) -> None:
    with ex.read() as s:
        entitlements.check_live(s, grant.entitlement_id, MODE)
