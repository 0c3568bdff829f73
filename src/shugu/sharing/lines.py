"""The NDJSON lines of metadata, query and changes answers (parquet response format).

A /query on a table of ten thousand files must stay fast, so everything that does not depend
on the request (each file's JSON minus its URL and expiry, the schema string) is serialised
once per snapshot and kept with it; a request only signs URLs and joins strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shugu.sharing.delta_log import Commit, FileAction, Snapshot
from shugu.sharing.signer import encode_path

PROTOCOL_LINE = json.dumps({"protocol": {"minReaderVersion": 1}})
# The answer's own protocol is version 1; the table's Delta reader version matters only in
# the delta response format.


_TYPE_KEYS = {"type", "elementType", "keyType", "valueType"}


def _compatible_type(node: Any) -> Any:
    # The official Python client (1.4) converts by Delta type name and knows no
    # timestamp_ntz; a parquet reader reads such a column the same either way.
    if isinstance(node, dict):
        return {k: "timestamp" if k in _TYPE_KEYS and v == "timestamp_ntz"
                else _compatible_type(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_compatible_type(x) for x in node]
    return node


def schema_string(snapshot: Snapshot) -> str:
    cached = snapshot.extras.get("schema_string")
    if cached is None:
        raw = snapshot.metadata["schemaString"]
        cached = json.dumps(_compatible_type(json.loads(raw)), ensure_ascii=False,
                            separators=(",", ":"))
        snapshot.extras["schema_string"] = cached
    return str(cached)


def metadata_line(snapshot: Snapshot, *, version: int | None = None,
                  with_size: bool = True) -> str:
    m = snapshot.metadata
    body: dict[str, Any] = {
        "id": m.get("id"),
        "format": {"provider": "parquet"},
        "schemaString": schema_string(snapshot),
        "partitionColumns": snapshot.partition_columns,
        "configuration": snapshot.configuration,
    }
    if m.get("name"):
        body["name"] = m["name"]
    if m.get("description"):
        body["description"] = m["description"]
    return _metadata_json(body, snapshot, version, with_size)


def _metadata_json(body: dict[str, Any], snapshot: Snapshot, version: int | None,
                   with_size: bool) -> str:
    """The metaData line both response formats share, around their own `body`."""
    if version is not None:
        body["version"] = version
    if with_size:
        body["size"] = sum(f.size for f in snapshot.files)
        body["numFiles"] = len(snapshot.files)
    return json.dumps({"metaData": body}, ensure_ascii=False, separators=(",", ":"))


Sign = Callable[[FileAction, str], str]  # (file, encoded path) -> URL


def _tail(f: FileAction, extra: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"id": f.id, "partitionValues": f.partition_values, "size": f.size}
    if f.stats:
        body["stats"] = f.stats
    if extra:
        body.update(extra)
    # Without the braces: the line is assembled around the per-request URL.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))[1:-1]


def prepared(snapshot: Snapshot) -> list[tuple[FileAction, str, str]]:
    """(file, encoded path, JSON tail) for each file of the snapshot, computed once."""
    cached = snapshot.extras.get("prepared")
    if cached is None:
        cached = [(f, encode_path(f.path), _tail(f)) for f in snapshot.files]
        snapshot.extras["prepared"] = cached
    return list(cached)


def file_lines(items: list[tuple[FileAction, str, str]], sign: Sign,
               expires_ms: int) -> list[str]:
    out = []
    for f, enc, tail in items:
        url = sign(f, enc)
        out.append(f'{{"file":{{"url":{json.dumps(url)},"expirationTimestamp":{expires_ms},'
                   f'{tail}}}}}')
    return out


def change_lines(commits: list[Commit], sign: Sign, expires_ms: int) -> list[str]:
    """add/remove/cdf lines per commit: a commit's cdc files when it wrote any (updates,
    deletes, merges), else its data-changing adds and removes (appends, overwrites)."""
    out = []
    for c in commits:
        when = {"version": c.version, "timestamp": c.timestamp}
        if c.cdcs:
            actions = [("cdf", f) for f in c.cdcs]
        else:
            actions = [("add", f) for f in c.adds if f.data_change]
            actions += [("remove", f) for f in c.removes if f.data_change]
        for kind, f in actions:
            enc = encode_path(f.path)
            body = _tail(f, when) if kind != "remove" else _tail(
                FileAction(f.path, f.size, f.partition_values), when)
            out.append(f'{{"{kind}":{{"url":{json.dumps(sign(f, enc))},'
                       f'"expirationTimestamp":{expires_ms},{body}}}}}')
    return out


# -- delta response format (read by the official client's delta-kernel path) ---------------


def delta_protocol_line(snapshot: Snapshot) -> str:
    return json.dumps({"protocol": {"deltaProtocol": snapshot.protocol}},
                      separators=(",", ":"))


def delta_metadata_line(snapshot: Snapshot, *, version: int | None = None,
                        with_size: bool = True) -> str:
    return _metadata_json({"deltaMetadata": snapshot.metadata}, snapshot, version, with_size)


def _delta_tail(f: FileAction) -> str:
    add: dict[str, Any] = {"partitionValues": f.partition_values, "size": f.size,
                           "modificationTime": f.modification_time, "dataChange": True}
    if f.stats:
        add["stats"] = f.stats
    return json.dumps(add, ensure_ascii=False, separators=(",", ":"))[1:-1]


def delta_prepared(snapshot: Snapshot) -> dict[int, str]:
    """id(file) -> the add action's JSON minus its path, computed once per snapshot."""
    cached = snapshot.extras.get("delta_prepared")
    if cached is None:
        cached = {id(f): _delta_tail(f) for f in snapshot.files}
        snapshot.extras["delta_prepared"] = cached
    return dict(cached)


def delta_file_lines(items: list[tuple[FileAction, str, str]], tails: dict[int, str],
                     sign: Sign, expires_ms: int) -> list[str]:
    out = []
    for f, enc, _ in items:
        url = json.dumps(sign(f, enc))
        out.append(f'{{"file":{{"id":"{f.id}","expirationTimestamp":{expires_ms},'
                   f'"deltaSingleAction":{{"add":{{"path":{url},{tails[id(f)]}}}}}}}}}')
    return out


def delta_change_lines(commits: list[Commit], sign: Sign, expires_ms: int) -> list[str]:
    """Every add, remove and cdc action of each commit as delta-kernel's change data feed
    reads them (it derives the change types itself)."""
    out = []
    for c in commits:
        for kind, group in (("add", c.adds), ("remove", c.removes), ("cdc", c.cdcs)):
            for f in group:
                action: dict[str, Any] = {"path": sign(f, encode_path(f.path)),
                                          "partitionValues": f.partition_values,
                                          "size": f.size, "dataChange": f.data_change}
                if kind == "add":
                    action["modificationTime"] = f.modification_time
                    if f.stats:
                        action["stats"] = f.stats
                elif kind == "remove":
                    action["deletionTimestamp"] = c.timestamp
                else:
                    action["dataChange"] = False
                out.append(json.dumps({"file": {
                    "id": f.id, "expirationTimestamp": expires_ms, "version": c.version,
                    "timestamp": c.timestamp, "deltaSingleAction": {kind: action}}},
                    ensure_ascii=False, separators=(",", ":")))
    return out
