"""The Delta Sharing protocol server at /delta-sharing, and its signed file URLs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shugu.api.limits import BIG_MAX, INT32_MAX, LONG_TEXT_MAX, TOKEN_MAX
from shugu.api.openapi import NDJSONResponse
from shugu.catalog.models import DataTable
from shugu.errors import InvalidInput, NotFound, Unauthenticated
from shugu.identity import service as identity
from shugu.identity.principal import Principal
from shugu.pagination import decode_token, encode_token
from shugu.runtime import Exchange
from shugu.sharing import files, lines, predicates, shares, usage
from shugu.sharing.delta_log import DeltaLog, FileAction, Snapshot
from shugu.sharing.errors import SharingRoute
from shugu.sharing.signer import FILES_PREFIX, SIGNATURE_PARAM, FileGrant, LocalSigner

PREFIX = "/delta-sharing"
NDJSON = "application/x-ndjson; charset=utf-8"
VERSION_HEADER = "Delta-Table-Version"
CAPABILITIES_HEADER = "delta-sharing-capabilities"
DEFAULT_PAGE = 100
MAX_PAGE = 1000

VERSION_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "The table version, in the Delta-Table-Version header; no body",
    "content": {},
    "headers": {VERSION_HEADER: {"schema": {"type": "integer"}}}}}
NDJSON_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "Newline-delimited JSON lines of the Delta Sharing protocol",
    "headers": {VERSION_HEADER: {"schema": {"type": "integer"}}}}}

router = APIRouter(prefix=PREFIX, route_class=SharingRoute, tags=["delta-sharing"])


@dataclass
class SharingState:
    log: DeltaLog
    signer: LocalSigner


_state_lock = threading.Lock()


def _exchange(request: Request) -> Exchange:
    ex: Exchange = request.app.state.exchange
    return ex


def _state(request: Request) -> SharingState:
    app_state = request.app.state
    with _state_lock:
        st = getattr(app_state, "sharing", None)
        if st is None:
            ex = _exchange(request)
            st = SharingState(DeltaLog(), LocalSigner.load_or_create(ex.settings.keys_dir))
            app_state.sharing = st
    return st  # type: ignore[no-any-return]


def _principal(request: Request,
               authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("use Authorization: Bearer <token>", code="token_invalid")
        token = value.strip()
    with _exchange(request).read() as s:
        # Both API tokens and sharing-scope (profile) tokens may read shares.
        return identity.authenticate(s, token)


PrincipalDep = Annotated[Principal, Depends(_principal)]
MaxResults = Annotated[int | None, Query(alias="maxResults", ge=0, le=INT32_MAX)]
PageToken = Annotated[str | None, Query(alias="pageToken", max_length=TOKEN_MAX)]
StartingTimestamp = Annotated[str | None, Query(alias="startingTimestamp", max_length=100)]
EndingTimestamp = Annotated[str | None, Query(alias="endingTimestamp", max_length=100)]
StartingVersion = Annotated[int | None, Query(alias="startingVersion", ge=0, le=BIG_MAX)]
EndingVersion = Annotated[int | None, Query(alias="endingVersion", ge=0, le=BIG_MAX)]
Version = Annotated[int | None, Field(ge=0, le=BIG_MAX)]


def _page(items: list[Any], max_results: int | None, page_token: str | None) -> dict[str, Any]:
    if max_results is not None and max_results < 0:
        raise InvalidInput("maxResults must not be negative", code="invalid_max_results")
    limit = min(DEFAULT_PAGE if max_results is None else max_results, MAX_PAGE)
    offset = decode_token(page_token)
    body: dict[str, Any] = {"items": items[offset: offset + limit]}
    if offset + limit < len(items):
        body["nextPageToken"] = encode_token(offset + limit)
    return body


def _base_url(request: Request) -> str:
    public = _exchange(request).settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def _url_ttl(ex: Exchange) -> int:
    return ex.settings.sharing_url_ttl_seconds


def _delta_format(request: Request) -> bool:
    """Answer in the delta response format? Only when it is the one format the client asked
    for (`responseformat=delta`, the official client's use_delta_format=True).

    When a client accepts both (`responseformat=delta,parquet`, how the official client
    probes), we choose parquet: its reader reports a refused file URL as an HTTP error,
    whereas delta-kernel reads the error body as a corrupt parquet file, and on a 5M-row
    table the kernel path was no faster (bench/sharing_load.py).
    """
    header = request.headers.get(CAPABILITIES_HEADER, "")
    for part in header.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "responseformat":
            return [v.strip().lower() for v in value.split(",")] == ["delta"]
    return False


def _table_response(text: str, version: int, delta: bool = False) -> Response:
    return NDJSONResponse(text, media_type=NDJSON, headers={
        VERSION_HEADER: str(version),
        CAPABILITIES_HEADER: f"responseformat={'delta' if delta else 'parquet'}"})


# -- shares, schemas, tables ----------------------------------------------------------------


@router.get("/shares")
def list_shares(request: Request, who: PrincipalDep, max_results: MaxResults = None,
                page_token: PageToken = None) -> dict[str, Any]:
    with _exchange(request).read() as s:
        items = [{"name": p.slug, "id": shares.share_id(p)} for _, p in shares.visible(s, who)]
    return _page(items, max_results, page_token)


@router.get("/shares/{share}")
def get_share(request: Request, share: str, who: PrincipalDep) -> dict[str, Any]:
    with _exchange(request).read() as s:
        _, p = shares.resolve_share(s, who, share)
        return {"share": {"name": p.slug, "id": shares.share_id(p)}}


@router.get("/shares/{share}/schemas")
def list_schemas(request: Request, share: str, who: PrincipalDep,
                 max_results: MaxResults = None, page_token: PageToken = None) -> dict[str, Any]:
    with _exchange(request).read() as s:
        _, p = shares.resolve_share(s, who, share)
    return _page([{"name": shares.SCHEMA, "share": p.slug}], max_results, page_token)


def _table_items(request: Request, who: Principal, share: str) -> list[dict[str, Any]]:
    with _exchange(request).read() as s:
        _, p = shares.resolve_share(s, who, share)
        sid = shares.share_id(p)
        return [{"name": t.name, "schema": shares.SCHEMA, "share": p.slug, "shareId": sid,
                 "id": shares.table_id(t)} for t in shares.published_tables(p)]


@router.get("/shares/{share}/schemas/{schema}/tables")
def list_tables(request: Request, share: str, schema: str, who: PrincipalDep,
                max_results: MaxResults = None, page_token: PageToken = None) -> dict[str, Any]:
    shares.check_schema(schema)
    return _page(_table_items(request, who, share), max_results, page_token)


@router.get("/shares/{share}/all-tables")
def list_all_tables(request: Request, share: str, who: PrincipalDep,
                    max_results: MaxResults = None,
                    page_token: PageToken = None) -> dict[str, Any]:
    return _page(_table_items(request, who, share), max_results, page_token)


# -- one table ------------------------------------------------------------------------------

TABLE = "/shares/{share}/schemas/{schema}/tables/{table}"


def _ref(request: Request, who: Principal, share: str, schema: str,
         table: str) -> shares.TableRef:
    ex = _exchange(request)
    with ex.read() as s:
        return shares.resolve_table(s, who, share, schema, table, ex.settings.tables_dir)


@router.get(TABLE + "/version", response_class=Response, responses=VERSION_DOC)
def table_version(request: Request, share: str, schema: str, table: str, who: PrincipalDep,
                  starting_timestamp: StartingTimestamp = None,
                  ) -> Response:
    ref = _ref(request, who, share, schema, table)
    version = ref.current_version
    if starting_timestamp is not None:
        version = _state(request).log.version_from(ref.directory, ref.current_version,
                                                   starting_timestamp)
    return Response(status_code=200, headers={VERSION_HEADER: str(version)})


@router.get(TABLE + "/metadata", response_class=NDJSONResponse, responses=NDJSON_DOC)
def table_metadata(request: Request, share: str, schema: str, table: str,
                   who: PrincipalDep) -> Response:
    ref = _ref(request, who, share, schema, table)
    snap = _state(request).log.snapshot(ref.directory, ref.current_version)
    if _delta_format(request):
        text = lines.delta_protocol_line(snap) + "\n" + lines.delta_metadata_line(snap) + "\n"
        return _table_response(text, ref.current_version, delta=True)
    text = lines.PROTOCOL_LINE + "\n" + lines.metadata_line(snap) + "\n"
    return _table_response(text, ref.current_version)


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    predicateHints: list[Annotated[str, Field(max_length=LONG_TEXT_MAX)]] | None = None
    # Longer hints are not read (the protocol lets a server ignore any hint).
    jsonPredicateHints: str | None = None
    limitHint: Annotated[int | None, Field(ge=0, le=BIG_MAX)] = None
    version: Version = None
    timestamp: str | None = Field(default=None, max_length=100)
    startingVersion: Version = None
    endingVersion: Version = None


def _signer_for(request: Request, ref: shares.TableRef,
                entitlement_id: int) -> tuple[lines.Sign, int]:
    ex = _exchange(request)
    st = _state(request)
    expires = int(time.time()) + _url_ttl(ex)
    base = _base_url(request)

    def sign(f: FileAction, encoded: str) -> str:
        return st.signer.url(base, FileGrant(ref.table_id, entitlement_id, expires, f.path),
                             encoded)

    return sign, expires * 1000


def _charged(request: Request, ref: shares.TableRef,
             build: Callable[[lines.Sign, int], list[str]],
             charge: Callable[[int], int]) -> list[str]:
    """The answer's file lines, charged: built with URLs for the entitlement resolved at
    lookup, then charged (`charge(number of files)` chooses the entitlement in its write
    transaction), and rebuilt in the rare case the charge went to another entitlement (the
    answer's rows, or a concurrent use, changed which one has room): a URL must carry the
    entitlement its bytes are charged to."""
    body = build(*_signer_for(request, ref, ref.entitlement_id))
    charged = charge(len(body))
    if charged != ref.entitlement_id:
        body = build(*_signer_for(request, ref, charged))
    return body


def _limit(items: list[tuple[FileAction, str, str]],
           limit: int) -> list[tuple[FileAction, str, str]]:
    """Enough files to hold `limit` rows by their statistics (files without stats count 0)."""
    out, rows = [], 0
    for item in items:
        if rows >= limit:
            break
        out.append(item)
        rows += item[0].num_records() or 0
    return out


@router.post(TABLE + "/query", response_class=NDJSONResponse, responses=NDJSON_DOC)
def query_table(request: Request, share: str, schema: str, table: str, who: PrincipalDep,
                body: QueryIn | None = None) -> Response:
    body = body or QueryIn()
    ex = _exchange(request)
    ref = _ref(request, who, share, schema, table)
    log = _state(request).log
    if body.startingVersion is not None:
        raise InvalidInput("startingVersion in /query (streaming) is not supported; use "
                           "/changes", code="unsupported_parameter")
    if body.version is not None and body.timestamp is not None:
        raise InvalidInput("give version or timestamp, not both", code="invalid_time_travel")
    travelled = body.version is not None or body.timestamp is not None
    version = ref.current_version
    if body.version is not None:
        version = shares.check_version(ref, body.version)
    elif body.timestamp is not None:
        version = log.version_at(ref.directory, ref.current_version, body.timestamp)
    if body.limitHint is not None and body.limitHint < 0:
        raise InvalidInput("limitHint must not be negative", code="invalid_limit")
    snap: Snapshot = log.snapshot(ref.directory, version)
    items = lines.prepared(snap)
    tree = predicates.parse(body.jsonPredicateHints)
    applied = False
    if tree is not None:
        kept, applied = predicates.select([i[0] for i in items], snap.partition_columns, tree)
        if applied:
            keep = {id(f) for f in kept}
            items = [i for i in items if id(i[0]) in keep]
    if body.limitHint is not None:
        items = _limit(items, body.limitHint)
    delta = _delta_format(request)
    if delta:
        head = [lines.delta_protocol_line(snap),
                lines.delta_metadata_line(snap, version=version if travelled else None)]
    else:
        head = [lines.PROTOCOL_LINE,
                lines.metadata_line(snap, version=version if travelled else None)]

    def build(sign: lines.Sign, expires_ms: int) -> list[str]:
        if delta:
            return lines.delta_file_lines(items, lines.delta_prepared(snap), sign, expires_ms)
        return lines.file_lines(items, sign, expires_ms)

    # Rows come from the files' own statistics: what the consumer receives, before any
    # filtering on its side. A file written without statistics counts as 0 rows.
    rows = sum(i[0].num_records() or 0 for i in items)
    file_lines = _charged(request, ref, build, lambda files: usage.charge_query(
        ex, who, ref, operation="query", version=version, files=files, rows=rows,
        detail={"predicate_applied": applied, "limit_hint": body.limitHint,
                "format": "delta" if delta else "parquet"}))
    return _table_response("\n".join([*head, *file_lines]) + "\n", version, delta)


def _truthy(value: str | None) -> bool:
    # The official client sends Python's str(True).
    return value is not None and value.strip().lower() in ("true", "1", "yes")


@router.get(TABLE + "/changes", response_class=NDJSONResponse, responses=NDJSON_DOC)
def table_changes(
    request: Request, share: str, schema: str, table: str, who: PrincipalDep,
    starting_version: StartingVersion = None,
    starting_timestamp: StartingTimestamp = None,
    ending_version: EndingVersion = None,
    ending_timestamp: EndingTimestamp = None,
    include_historical_metadata: Annotated[str | None, Query(alias="includeHistoricalMetadata",
                                                              max_length=10)] = None,
) -> Response:
    ex = _exchange(request)
    ref = _ref(request, who, share, schema, table)
    log = _state(request).log
    if (starting_version is None) == (starting_timestamp is None):
        raise InvalidInput("give exactly one of startingVersion and startingTimestamp",
                           code="invalid_cdf_range")
    if ending_version is not None and ending_timestamp is not None:
        raise InvalidInput("give at most one of endingVersion and endingTimestamp",
                           code="invalid_cdf_range")
    if starting_version is not None:
        start = shares.check_version(ref, starting_version, "startingVersion")
    else:
        assert starting_timestamp is not None
        start = log.version_from(ref.directory, ref.current_version, starting_timestamp)
    end = ref.current_version
    if ending_version is not None:
        end = shares.check_version(ref, ending_version, "endingVersion")
    elif ending_timestamp is not None:
        end = log.version_at(ref.directory, ref.current_version, ending_timestamp)
    if start > end:
        raise InvalidInput(f"the starting version {start} is after the ending version {end}",
                           code="invalid_cdf_range")
    first = log.snapshot(ref.directory, start)
    if first.configuration.get("delta.enableChangeDataFeed", "").lower() != "true":
        raise InvalidInput("the change data feed is not enabled on this table at version "
                           f"{start}", code="cdf_not_enabled")
    last = log.snapshot(ref.directory, end)
    commits = [log.commit(ref.directory, v) for v in range(start, end + 1)]
    delta = _delta_format(request)
    if delta:
        # The kernel rebuilds a Delta log from these lines; it needs the metadata line to
        # carry the starting version.
        head = [lines.delta_protocol_line(last),
                lines.delta_metadata_line(first, version=start, with_size=False)]
        historical = [lines.delta_metadata_line(
            Snapshot(c.version, c.timestamp, c.metadata, last.protocol, []), version=c.version,
            with_size=False) for c in commits if c.metadata is not None and c.version > start]
    else:
        head = [lines.PROTOCOL_LINE, lines.metadata_line(last, with_size=False)]
        historical = [lines.metadata_line(
            Snapshot(c.version, c.timestamp, c.metadata, last.protocol, []), version=c.version,
            with_size=False) for c in commits if c.metadata is not None and c.version > start
        ] if _truthy(include_historical_metadata) else []
    build = lines.delta_change_lines if delta else lines.change_lines
    body = _charged(request, ref, lambda sign, expires_ms: build(commits, sign, expires_ms),
                    lambda files: usage.charge_query(
                        ex, who, ref, operation="changes", version=end, files=files,
                        detail={"starting_version": start, "ending_version": end,
                                "format": "delta" if delta else "parquet"}))
    return _table_response("\n".join([*head, *body, *historical]) + "\n", start, delta)


# -- files ----------------------------------------------------------------------------------


def _grant(request: Request, table_id: int, entitlement_id: int, expires: int,
           encoded: str) -> FileGrant:
    signature = request.query_params.get(SIGNATURE_PARAM)
    return _state(request).signer.verify(table_id, entitlement_id, expires, encoded, signature,
                                         time.time())


def _file_path(request: Request, grant: FileGrant) -> Path:
    ex = _exchange(request)
    with ex.read() as s:
        t = s.get(DataTable, grant.table_id)
        if t is None:
            raise NotFound("the file does not exist", code="file_not_found")
        directory = ex.settings.tables_dir / t.location
    return files.resolve(directory, grant.path)


@router.api_route(FILES_PREFIX.removeprefix(PREFIX)
                  + "/{table_id}/{entitlement_id}/{expires}/{encoded}",
                  methods=["GET", "HEAD"], include_in_schema=False)
def get_file(request: Request, table_id: int, entitlement_id: int, expires: int,
             encoded: str, range_header: Annotated[str | None,
                                                   Header(alias="range")] = None) -> Response:
    """A signed file URL; the signature proves the path came from a served Delta log."""
    grant = _grant(request, table_id, entitlement_id, expires, encoded)
    path = _file_path(request, grant)
    size = path.stat().st_size
    span = files.span(range_header, size)
    ex = _exchange(request)
    if request.method == "HEAD":
        usage.check_live(ex, grant)
        return files.head_response(span, size)
    if span.partial:
        usage.authorise_bytes(ex, grant, span.length)
        return files.file_response(path, span, size)
    usage.authorise_stream(ex, grant, span.length)
    return files.file_response(path, span, size,
                               on_done=lambda sent: usage.charge_sent(ex, grant, sent))


@router.api_route("/{rest:path}", methods=["GET", "POST", "HEAD", "PUT", "DELETE"],
                  include_in_schema=False)
def unknown(rest: str) -> Response:
    raise NotFound(f"no Delta Sharing endpoint at /{rest}", code="no_such_endpoint")
