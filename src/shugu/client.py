"""Python SDK over shugu's REST API: `shugu.Client(base_url, token)`, typed results.

Requests are validated by the server, the one authority; answers are parsed into models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from shugu.catalog import schemas as catalog
from shugu.entitlements import schemas as entitlements
from shugu.identity import schemas as identity
from shugu.ledger import schemas as ledger
from shugu.metering.schemas import UsageOut
from shugu.pagination import Page
from shugu.sandbox import schemas as sandbox

M = TypeVar("M", bound=BaseModel)
CHUNK = 1024 * 1024


class ShuguAPIError(Exception):
    """An error answer from the server, with its stable code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class Client:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = kwargs.pop("params", None)
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                raise ShuguAPIError(
                    response.status_code, err["code"], err["message"], err.get("details")
                )
            except (ValueError, KeyError, TypeError):
                raise ShuguAPIError(
                    response.status_code, "http_error", response.text[:500]
                ) from None
        return response.json()

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return model.model_validate(self._request("GET", path, params=params))

    def _list(self, model: Any, path: str, **params: Any) -> Any:
        return TypeAdapter(model).validate_python(self._request("GET", path, params=params))

    def _send(
        self,
        method: str,
        model: type[M],
        path: str,
        body: BaseModel | dict[str, Any],
        **params: Any,
    ) -> M:
        payload = (
            body.model_dump(mode="json", exclude_unset=True)
            if isinstance(body, BaseModel)
            else body
        )
        return model.model_validate(self._request(method, path, json=payload, params=params))

    # -- identity -------------------------------------------------------------------------

    def login(self, username: str, password: str) -> identity.TokenCreated:
        """Exchange a password for a token; the client then uses it."""
        created = self._send(
            "POST", identity.TokenCreated, "/auth/login", dict(username=username, password=password)
        )
        self.token = created.secret
        self._http.headers["Authorization"] = f"Bearer {created.secret}"
        return created

    def me(self) -> identity.Me:
        return self._get(identity.Me, "/me")

    def create_organization(
        self,
        uscc: str,
        name: str,
        roles: list[str],
        admin_username: str,
        *,
        name_en: str | None = None,
        admin_password: str | None = None,
    ) -> identity.OrganizationCreated:
        body = dict(
            uscc=uscc,
            name=name,
            name_en=name_en,
            roles=roles,
            admin_username=admin_username,
            admin_password=admin_password,
        )
        return self._send("POST", identity.OrganizationCreated, "/organizations", body)

    def list_organizations(
        self, *, role: str | None = None, limit: int | None = None, page_token: str | None = None
    ) -> Page[identity.OrganizationOut]:
        return self._get(
            Page[identity.OrganizationOut],
            "/organizations",
            role=role,
            limit=limit,
            page_token=page_token,
        )

    def get_organization(self, org_id: int) -> identity.OrganizationOut:
        return self._get(identity.OrganizationOut, f"/organizations/{org_id}")

    def set_roles(self, org_id: int, roles: list[str]) -> identity.OrganizationOut:
        return self._send(
            "PUT", identity.OrganizationOut, f"/organizations/{org_id}/roles", {"roles": roles}
        )

    def create_user(
        self,
        org_id: int,
        username: str,
        *,
        password: str | None = None,
        display_name: str | None = None,
        is_admin: bool = False,
    ) -> identity.UserCreated:
        body = dict(
            username=username, password=password, display_name=display_name, is_admin=is_admin
        )
        return self._send("POST", identity.UserCreated, f"/organizations/{org_id}/users", body)

    def list_users(self, org_id: int) -> list[identity.UserOut]:
        return self._list(list[identity.UserOut], f"/organizations/{org_id}/users")

    def create_token(
        self, name: str, *, expires_in_days: int | None = None
    ) -> identity.TokenCreated:
        return self._send(
            "POST",
            identity.TokenCreated,
            "/tokens",
            dict(name=name, expires_in_days=expires_in_days),
        )

    def list_tokens(self) -> list[identity.TokenOut]:
        return self._list(list[identity.TokenOut], "/tokens")

    def revoke_token(self, token_id: int) -> identity.TokenOut:
        return identity.TokenOut.model_validate(self._request("DELETE", f"/tokens/{token_id}"))

    # -- catalog --------------------------------------------------------------------------

    def create_product(self, slug: str, title_zh: str, **fields: Any) -> catalog.ProductOut:
        return self._send(
            "POST", catalog.ProductOut, "/products", dict(slug=slug, title_zh=title_zh, **fields)
        )

    def update_product(self, slug: str, **fields: Any) -> catalog.ProductOut:
        return self._send("PATCH", catalog.ProductOut, f"/products/{slug}", dict(**fields))

    def get_product(self, slug: str) -> catalog.ProductOut:
        return self._get(catalog.ProductOut, f"/products/{slug}")

    def list_products(
        self,
        *,
        provider_org_id: int | None = None,
        limit: int | None = None,
        page_token: str | None = None,
    ) -> Page[catalog.ProductOut]:
        return self._get(
            Page[catalog.ProductOut],
            "/products",
            provider_org_id=provider_org_id,
            limit=limit,
            page_token=page_token,
        )

    def create_table(
        self,
        slug: str,
        name: str,
        *,
        description: str | None = None,
        partition_by: list[str] | None = None,
    ) -> catalog.TableOut:
        body = dict(name=name, description=description, partition_by=partition_by or [])
        return self._send("POST", catalog.TableOut, f"/products/{slug}/tables", body)

    def ingest(
        self,
        slug: str,
        table: str,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        *,
        mode: Literal["append", "overwrite"] = "append",
        format: Literal["auto", "csv", "parquet", "arrow"] = "auto",
        encoding: str | None = None,
        delimiter: str | None = None,
        header: bool | None = None,
        filename: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> catalog.IngestOut:
        """Upload a file (path, bytes or binary stream); `progress(n)` gets bytes sent."""
        size: int | None = None
        if isinstance(source, bytes):
            content: Any = _chunks_of_bytes(source, progress)
            size = len(source)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            filename = filename or path.name
            size = path.stat().st_size
            content = _chunks_of_file(path, progress)
        else:
            content = _chunks_of_stream(source, progress)
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        params = {
            "mode": mode,
            "format": format,
            "encoding": encoding,
            "delimiter": delimiter,
            "header": None if header is None else str(header).lower(),
            "filename": filename,
        }
        data = self._request(
            "PUT",
            f"/products/{slug}/tables/{table}/data",
            content=content,
            headers=headers,
            params=params,
        )
        return catalog.IngestOut.model_validate(data)

    def publish_revision(
        self, slug: str, name: str, *, note: str | None = None, tables: list[str] | None = None
    ) -> catalog.RevisionOut:
        return self._send(
            "POST",
            catalog.RevisionOut,
            f"/products/{slug}/revisions",
            dict(name=name, note=note, tables=tables),
        )

    def list_revisions(self, slug: str) -> list[catalog.RevisionOut]:
        return self._list(list[catalog.RevisionOut], f"/products/{slug}/revisions")

    def get_revision(self, slug: str, number: int) -> catalog.RevisionOut:
        return self._get(catalog.RevisionOut, f"/products/{slug}/revisions/{number}")

    def revoke_revision(self, slug: str, number: int, reason: str) -> catalog.RevisionOut:
        return self._send(
            "POST",
            catalog.RevisionOut,
            f"/products/{slug}/revisions/{number}/revoke",
            {"reason": reason},
        )

    def search(
        self,
        q: str = "",
        *,
        provider_org_id: int | None = None,
        category: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
        page_token: str | None = None,
    ) -> Page[catalog.ProductHit]:
        return self._get(
            Page[catalog.ProductHit],
            "/search",
            q=q,
            provider_org_id=provider_org_id,
            category=category,
            tag=tag,
            limit=limit,
            page_token=page_token,
        )

    # -- entitlements and Delta Sharing profiles -----------------------------------------

    def grant_entitlement(
        self, consumer_org_id: int, product: str, *, modes: list[str] | None = None,
        valid_from: datetime | None = None, valid_until: datetime | None = None,
        quotas: dict[str, int] | None = None, note: str | None = None,
    ) -> entitlements.EntitlementOut:
        """As a provider, let a consumer organisation use a product (default: share mode)."""
        body = {"consumer_org_id": consumer_org_id, "product": product,
                "modes": modes or ["share"], "quotas": quotas or {}, "note": note,
                "valid_from": valid_from.isoformat() if valid_from else None,
                "valid_until": valid_until.isoformat() if valid_until else None}
        return self._send("POST", entitlements.EntitlementOut, "/entitlements", body)

    def list_entitlements(self, *, role: str = "consumer",
                          product: str | None = None) -> list[entitlements.EntitlementOut]:
        return self._list(list[entitlements.EntitlementOut], "/entitlements", role=role,
                          product=product)

    def get_entitlement(self, entitlement_id: int) -> entitlements.EntitlementOut:
        return self._get(entitlements.EntitlementOut, f"/entitlements/{entitlement_id}")

    def revoke_entitlement(self, entitlement_id: int,
                           reason: str) -> entitlements.EntitlementOut:
        return self._send("POST", entitlements.EntitlementOut,
                          f"/entitlements/{entitlement_id}/revoke", {"reason": reason})

    def sharing_profile(self, name: str = "delta-sharing profile", *,
                        expires_in_days: int | None = None) -> dict[str, Any]:
        """A Delta Sharing v1 profile (a dict; write it as JSON for delta_sharing)."""
        profile = self._send("POST", entitlements.Profile, "/sharing/profile",
                             {"name": name, "expires_in_days": expires_in_days})
        return profile.model_dump(exclude_none=True)

    def usage(self, *, role: str = "consumer", entitlement_id: int | None = None,
              limit: int | None = None, page_token: str | None = None) -> Page[UsageOut]:
        """Usage records: your own (consumer) or your buyers' (provider)."""
        return self._get(Page[UsageOut], "/usage", role=role, entitlement_id=entitlement_id,
                         limit=limit, page_token=page_token)

    # -- ledger ---------------------------------------------------------------------------

    def tree_head(self) -> ledger.SignedTreeHead:
        return self._get(ledger.SignedTreeHead, "/ledger/tree-head")

    def public_key(self) -> ledger.PublicKey:
        return self._get(ledger.PublicKey, "/ledger/public-key")

    def events(
        self,
        *,
        action: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
        page_token: str | None = None,
    ) -> Page[ledger.EventOut]:
        return self._get(
            Page[ledger.EventOut],
            "/ledger/events",
            action=action,
            subject=subject,
            limit=limit,
            page_token=page_token,
        )

    def event(self, seq: int) -> ledger.EventOut:
        return self._get(ledger.EventOut, f"/ledger/events/{seq}")

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> ledger.InclusionProof:
        return self._get(
            ledger.InclusionProof, f"/ledger/events/{seq}/inclusion", tree_size=tree_size
        )

    def consistency_proof(self, first: int, second: int) -> ledger.ConsistencyProof:
        return self._get(ledger.ConsistencyProof, "/ledger/consistency", first=first, second=second)

    # -- sandbox --------------------------------------------------------------------------

    def set_analysis_rules(self, slug: str, table: str,
                           rules: dict[str, Any] | BaseModel) -> sandbox.RulesOut:
        """As a provider, set a table's analysis rules (each call makes a new version)."""
        body = rules.model_dump(mode="json", by_alias=True, exclude_none=True) \
            if isinstance(rules, BaseModel) else rules
        return self._send("PUT", sandbox.RulesOut,
                          f"/products/{slug}/tables/{table}/analysis-rules", body)

    def analysis_rules(self, slug: str, table: str,
                       version: int | None = None) -> sandbox.RulesOut:
        return self._get(sandbox.RulesOut, f"/products/{slug}/tables/{table}/analysis-rules",
                         version=version)

    def sandbox_query(self, sql: str) -> sandbox.QueryResult:
        """Run an aggregate query in the sandbox; tables are named <product>.<table>."""
        return self._send("POST", sandbox.QueryResult, "/sandbox/queries", {"sql": sql})

    def sandbox_queries(self, *, limit: int | None = None,
                        page_token: str | None = None) -> Page[sandbox.QueryOut]:
        return self._get(Page[sandbox.QueryOut], "/sandbox/queries", limit=limit,
                         page_token=page_token)

    def sandbox_query_info(self, query_id: int) -> sandbox.QueryOut:
        return self._get(sandbox.QueryOut, f"/sandbox/queries/{query_id}")

    def sandbox_result(self, query_id: int) -> sandbox.QueryResult:
        return self._get(sandbox.QueryResult, f"/sandbox/queries/{query_id}/result")

    def upload_private_table(self, name: str, source: str | os.PathLike[str] | bytes, *,
                             format: Literal["auto", "csv", "parquet"] = "auto",
                             ) -> sandbox.PrivateTableOut:
        """Upload your own CSV/Parquet table into your sandbox space as mine.<name>."""
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return sandbox.PrivateTableOut.model_validate(self._request(
            "PUT", f"/sandbox/tables/{name}", content=data, params={"format": format},
            headers={"Content-Type": "application/octet-stream"}))

    def private_tables(self) -> list[sandbox.PrivateTableOut]:
        return self._list(list[sandbox.PrivateTableOut], "/sandbox/tables")

    def delete_private_table(self, name: str) -> None:
        response = self._http.request("DELETE", f"/sandbox/tables/{name}")
        if response.status_code >= 400:
            err = response.json()["error"]
            raise ShuguAPIError(response.status_code, err["code"], err["message"],
                                err.get("details"))

    def create_template(self, slug: str, name: str, sql: str, *,
                        parameters: dict[str, str] | None = None,
                        description: str | None = None) -> sandbox.TemplateOut:
        """As a provider, publish a parametrised query (`:name` placeholders)."""
        return self._send("POST", sandbox.TemplateOut, f"/products/{slug}/templates",
                          {"name": name, "sql": sql, "parameters": parameters or {},
                           "description": description})

    def templates(self, slug: str) -> list[sandbox.TemplateOut]:
        return self._list(list[sandbox.TemplateOut], f"/products/{slug}/templates")

    def run_template(self, template_id: int, **parameters: Any) -> sandbox.QueryResult:
        return self._send("POST", sandbox.QueryResult, f"/sandbox/templates/{template_id}/run",
                          {"parameters": {k: v.isoformat() if hasattr(v, "isoformat") else v
                                          for k, v in parameters.items()}})

    def submit_review(self, product: str, sql: str, *,
                      note: str | None = None) -> sandbox.ReviewOut:
        """Ask a provider to approve a custom query; approved, it runs once."""
        return self._send("POST", sandbox.ReviewOut, "/sandbox/reviews",
                          {"product": product, "sql": sql, "note": note})

    def reviews(self, *, role: str = "consumer") -> list[sandbox.ReviewOut]:
        return self._list(list[sandbox.ReviewOut], "/sandbox/reviews", role=role)

    def decide_review(self, review_id: int, approve: bool, *,
                      note: str | None = None) -> sandbox.ReviewOut:
        return self._send("POST", sandbox.ReviewOut, f"/sandbox/reviews/{review_id}/decision",
                          {"approve": approve, "note": note})

    def run_review(self, review_id: int) -> sandbox.QueryResult:
        return self._send("POST", sandbox.QueryResult, f"/sandbox/reviews/{review_id}/run", {})


def _chunks_of_bytes(data: bytes, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        if progress:
            progress(len(chunk))
        yield chunk


def _chunks_of_file(path: Path, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from _chunks_of_stream(fh, progress)


def _chunks_of_stream(fh: BinaryIO, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        if progress:
            progress(len(chunk))
        yield chunk
