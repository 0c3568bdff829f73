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
from pydantic_core import to_jsonable_python

from shugu.billing import schemas as billing
from shugu.catalog import schemas as catalog
from shugu.contracts import schemas as contracts
from shugu.entitlements import schemas as entitlements
from shugu.identity import schemas as identity
from shugu.ledger import schemas as ledger
from shugu.metering.schemas import UsageOut
from shugu.pagination import Page
from shugu.review import schemas as review
from shugu.rights import schemas as rights
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
        _check(response)
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

    def change_password(self, current_password: str, new_password: str) -> None:
        _check(self._http.post("/me/password", json={
            "current_password": current_password, "new_password": new_password}))

    def reset_password(self, org_id: int, user_id: int,
                       password: str | None = None) -> identity.PasswordSet:
        return self._send("POST", identity.PasswordSet,
                          f"/organizations/{org_id}/users/{user_id}/password",
                          {"password": password})

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

    def product_sample(self, slug: str) -> catalog.SampleOut:
        return self._get(catalog.SampleOut, f"/products/{slug}/sample")

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
        null_values: list[str] | None = None,
    ) -> catalog.IngestOut:
        """Upload a file (path, bytes or binary stream); `progress(n)` gets bytes sent.
        `null_values`: CSV cells read as null (default: the empty cell only)."""
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
            "null_values": null_values,
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

    # -- billing --------------------------------------------------------------------------

    def run_billing(self, until: datetime | None = None) -> list[billing.InvoiceOut]:
        """Operators: invoice every agreement up to `until` (default: this month's start)."""
        body = {"until": until.isoformat()} if until else {}
        return TypeAdapter(list[billing.InvoiceOut]).validate_python(
            self._request("POST", "/billing/runs", json=body))

    def invoices(self, *, role: str = "consumer", status: str | None = None,
                 limit: int | None = None, page_token: str | None = None
                 ) -> Page[billing.InvoiceOut]:
        return self._get(Page[billing.InvoiceOut], "/invoices", role=role, status=status,
                         limit=limit, page_token=page_token)

    def invoice(self, number: str) -> billing.InvoiceOut:
        return self._get(billing.InvoiceOut, f"/invoices/{number}")

    def void_invoice(self, number: str, reason: str) -> billing.InvoiceOut:
        return self._send("POST", billing.InvoiceOut, f"/invoices/{number}/void",
                          {"reason": reason})

    def settle(self, until: datetime | None = None) -> billing.SettlementOut:
        body = {"until": until.isoformat()} if until else {}
        return self._send("POST", billing.SettlementOut, "/settlements", body)

    def settlements(self, *, limit: int | None = None, page_token: str | None = None
                    ) -> Page[billing.SettlementOut]:
        return self._get(Page[billing.SettlementOut], "/settlements", limit=limit,
                         page_token=page_token)

    def settlement(self, number: str) -> billing.SettlementOut:
        return self._get(billing.SettlementOut, f"/settlements/{number}")

    def vouchers(self, *, role: str = "consumer", limit: int | None = None,
                 page_token: str | None = None) -> Page[billing.VoucherOut]:
        return self._get(Page[billing.VoucherOut], "/vouchers", role=role, limit=limit,
                         page_token=page_token)

    def voucher(self, number: str) -> billing.VoucherOut:
        return self._get(billing.VoucherOut, f"/vouchers/{number}")

    def voucher_evidence(self, number: str) -> dict[str, Any]:
        """The voucher with its ledger events, inclusion proofs and a signed tree head."""
        return dict(self._request("GET", f"/vouchers/{number}/evidence"))

    def verify_voucher(self, bundle: dict[str, Any]) -> billing.VoucherReportOut:
        return self._send("POST", billing.VoucherReportOut, "/vouchers/verify", bundle)

    def cost_items_csv(self, *, start: datetime | None = None,
                       end: datetime | None = None) -> str:
        """Your organisation's cost items as a buyer, as CSV text (UTF-8 with BOM)."""
        return self._raw("/billing/cost-items.csv",
                         start=start.isoformat() if start else None,
                         end=end.isoformat() if end else None).decode("utf-8")

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
        mine: bool = False,
    ) -> Page[ledger.EventOut]:
        """Events, public form; with the opening where your organisation is a party."""
        return self._get(
            Page[ledger.EventOut],
            "/ledger/events",
            action=action,
            subject=subject,
            limit=limit,
            page_token=page_token,
            mine="true" if mine else None,
        )

    def event(self, seq: int) -> ledger.EventOut:
        return self._get(ledger.EventOut, f"/ledger/events/{seq}")

    def opening(self, seq: int) -> ledger.EventOut:
        """One event with its opening (403 not_a_party unless you are one)."""
        return self._get(ledger.EventOut, f"/ledger/events/{seq}/opening")

    def openings(self, *, action: str | None = None, subject: str | None = None,
                 tree_size: int | None = None, limit: int | None = None,
                 page_token: str | None = None) -> dict[str, Any]:
        """A bundle of your events' openings with proofs (JSON, as an auditor gets it)."""
        return self._request("GET", "/ledger/openings", params={  # type: ignore[no-any-return]
            "action": action, "subject": subject, "tree_size": tree_size, "limit": limit,
            "page_token": page_token})

    def verify_openings(self, bundle: dict[str, Any]) -> ledger.BundleVerdict:
        return self._send("POST", ledger.BundleVerdict, "/ledger/openings/verify", bundle)

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

    def sandbox_query(self, sql: str, *, epsilon: float | None = None,
                      margin: float | None = None,
                      confidence: float = 0.95) -> sandbox.QueryResult:
        """Run an aggregate query in the sandbox; tables are named <product>.<table>. On
        differentially private tables, `epsilon` chooses what to spend, or `margin` the
        ± (at `confidence`) every COUNT/SUM should have."""
        return self._send("POST", sandbox.QueryResult, "/sandbox/queries",
                          _dp_body(sql, epsilon, margin, confidence))

    def sandbox_estimate(self, sql: str, *, epsilon: float | None = None,
                         margin: float | None = None,
                         confidence: float = 0.95) -> sandbox.EstimateOut:
        """What a DP query would spend and its ± at 95 %, without running it."""
        return self._send("POST", sandbox.EstimateOut, "/sandbox/estimate",
                          _dp_body(sql, epsilon, margin, confidence))

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


    # -- rights: fingerprints, registrations, certificates, pledges ----------------------

    def record_fingerprint(self, slug: str, revision: int) -> rights.FingerprintOut:
        """Fingerprint a revision (存证); idempotent."""
        return self._send("POST", rights.FingerprintOut,
                          f"/products/{slug}/revisions/{revision}/fingerprint", {})

    def fingerprint(self, slug: str, revision: int) -> rights.FingerprintOut:
        return self._get(rights.FingerprintOut,
                         f"/products/{slug}/revisions/{revision}/fingerprint")

    def create_registration(self, kind: str = "initial",
                            **fields: Any) -> rights.RegistrationOut:
        """fields as in RegistrationIn: product, revision, certificate, rights, source_kind,
        source_description, algorithm_rules, scenario, update_period, counterparty_org_id,
        licence_scope, licence_until, pledge_id, reason, data_name."""
        body = to_jsonable_python({"kind": kind, **fields})
        return self._send("POST", rights.RegistrationOut, "/registrations", body)

    def update_registration(self, registration_id: int, **fields: Any) -> rights.RegistrationOut:
        return self._send("PATCH", rights.RegistrationOut, f"/registrations/{registration_id}",
                          to_jsonable_python(fields))

    def registration(self, registration_id: int) -> rights.RegistrationOut:
        return self._get(rights.RegistrationOut, f"/registrations/{registration_id}")

    def registrations(self, *, notices: bool = False, status: str | None = None,
                      limit: int | None = None,
                      page_token: str | None = None) -> Page[rights.RegistrationOut]:
        return self._get(Page[rights.RegistrationOut], "/registrations",
                         notices=str(notices).lower(), status=status, limit=limit,
                         page_token=page_token)

    def upload_document(self, registration_id: int, source: str | os.PathLike[str] | bytes, *,
                        filename: str | None = None, description: str | None = None,
                        content_type: str = "application/octet-stream") -> rights.DocumentOut:
        """Attach a proof document (a path or bytes); the server records its SHA-256."""
        if isinstance(source, bytes):
            data, name = source, filename or "document"
        else:
            path = Path(source)
            data, name = path.read_bytes(), filename or path.name
        return rights.DocumentOut.model_validate(self._request(
            "POST", f"/registrations/{registration_id}/documents", content=data,
            headers={"Content-Type": content_type},
            params={"filename": name, "description": description}))

    def download_document(self, registration_id: int, document_id: int) -> bytes:
        return self._raw(f"/registrations/{registration_id}/documents/{document_id}")

    def _registration_step(self, registration_id: int, step: str,
                           body: dict[str, Any] | None = None) -> rights.RegistrationOut:
        return self._send("POST", rights.RegistrationOut,
                          f"/registrations/{registration_id}/{step}", body or {})

    def submit_registration(self, registration_id: int) -> rights.RegistrationOut:
        return self._registration_step(registration_id, "submit")

    def withdraw_registration(self, registration_id: int) -> rights.RegistrationOut:
        return self._registration_step(registration_id, "withdraw")

    def review_registration(self, registration_id: int, decision: str,
                            note: str | None = None) -> rights.RegistrationOut:
        """Operator: "approve", "reject" or "request_changes"."""
        return self._registration_step(registration_id, "review",
                                       {"decision": decision, "note": note})

    def issue_registration(self, registration_id: int) -> rights.RegistrationOut:
        return self._registration_step(registration_id, "issue")

    def refuse_registration(self, registration_id: int, note: str) -> rights.RegistrationOut:
        return self._registration_step(registration_id, "refuse", {"note": note})

    def file_objection(self, registration_id: int, reason: str) -> rights.ObjectionOut:
        return self._send("POST", rights.ObjectionOut,
                          f"/registrations/{registration_id}/objections", {"reason": reason})

    def objections(self, registration_id: int) -> list[rights.ObjectionOut]:
        return self._list(list[rights.ObjectionOut],
                          f"/registrations/{registration_id}/objections")

    def resolve_objection(self, objection_id: int, decision: str,
                          note: str | None = None) -> rights.ObjectionOut:
        """Operator: "upheld" or "dismissed"."""
        return self._send("POST", rights.ObjectionOut, f"/objections/{objection_id}/resolve",
                          {"decision": decision, "note": note})

    def certificate(self, number: str) -> rights.CertificateOut:
        return self._get(rights.CertificateOut, f"/certificates/{number}")

    def certificates(self, *, limit: int | None = None,
                     page_token: str | None = None) -> Page[rights.CertificateOut]:
        return self._get(Page[rights.CertificateOut], "/certificates", limit=limit,
                         page_token=page_token)

    def certificate_file(self, number: str) -> rights.CertificateFile:
        """The signed JSON that `shugu cert verify` checks offline."""
        return self._get(rights.CertificateFile, f"/certificates/{number}/file")

    def certificate_html(self, number: str) -> str:
        return self._raw(f"/certificates/{number}.html").decode("utf-8")

    def certificate_status(self, number: str) -> rights.PublicStatus:
        """The public status (no token needed)."""
        return self._get(rights.PublicStatus, f"/public/certificates/{number}")

    def platform_key(self) -> rights.PlatformKeyOut:
        return self._get(rights.PlatformKeyOut, "/public/platform-key")

    def public_notices(self, *, limit: int | None = None,
                       page_token: str | None = None) -> Page[rights.PublicNotice]:
        """Registrations in public notice (公示) now, with their objection deadline (no
        token needed)."""
        return self._get(Page[rights.PublicNotice], "/public/notices", limit=limit,
                         page_token=page_token)

    def product_certificates(self, slug: str) -> list[rights.PublicStatus]:
        """The public status of a product's certificates (a listed product: no token)."""
        return self._list(list[rights.PublicStatus], f"/products/{slug}/certificates")

    def register_pledge(self, number: str, pledgee_org_id: int, amount_fen: int,
                        term_end: datetime, *, term_start: datetime | None = None,
                        note: str | None = None) -> rights.PledgeOut:
        body = to_jsonable_python({"pledgee_org_id": pledgee_org_id, "amount_fen": amount_fen,
                                   "term_start": term_start, "term_end": term_end,
                                   "note": note})
        return self._send("POST", rights.PledgeOut, f"/certificates/{number}/pledges", body)

    def pledges(self, *, certificate: str | None = None) -> list[rights.PledgeOut]:
        return self._list(list[rights.PledgeOut], "/pledges", certificate=certificate)

    def pledge(self, pledge_id: int) -> rights.PledgeOut:
        return self._get(rights.PledgeOut, f"/pledges/{pledge_id}")

    def release_pledge(self, pledge_id: int, note: str | None = None) -> rights.PledgeOut:
        return self._send("POST", rights.PledgeOut, f"/pledges/{pledge_id}/release",
                          {"note": note})

    def enforce_pledge(self, pledge_id: int, note: str | None = None) -> rights.PledgeOut:
        return self._send("POST", rights.PledgeOut, f"/pledges/{pledge_id}/enforce",
                          {"note": note})

    def _raw(self, path: str, **params: Any) -> bytes:
        """A non-JSON answer (a file, CSV, HTML) as bytes."""
        response = self._http.get(path, params={k: v for k, v in params.items()
                                                if v is not None})
        _check(response)
        return response.content

    # -- contracts: offers, negotiations, agreements ------------------------------------

    def create_offer(
        self, product: str, title: str, *, plan: str, price_fen: int, policy: dict[str, Any],
        period: str | None = None, description: str | None = None,
        visibility: str = "public", private_org_id: int | None = None,
        approval: str = "instant",
    ) -> contracts.OfferOut:
        """As a provider, put a price plan (integer fen) and a usage policy on a product."""
        body = {"title": title, "description": description, "plan": plan, "period": period,
                "price_fen": price_fen, "visibility": visibility,
                "private_org_id": private_org_id, "approval": approval, "policy": policy}
        return self._send("POST", contracts.OfferOut, f"/products/{product}/offers", body)

    def list_offers(self, product: str) -> list[contracts.OfferOut]:
        return self._list(list[contracts.OfferOut], f"/products/{product}/offers")

    def get_offer(self, offer_id: int) -> contracts.OfferOut:
        return self._get(contracts.OfferOut, f"/offers/{offer_id}")

    def withdraw_offer(self, offer_id: int) -> contracts.OfferOut:
        return self._send("POST", contracts.OfferOut, f"/offers/{offer_id}/withdraw", {})

    def evaluate_offer(self, offer_id: int, *, purpose: str | None = None,
                       mode: str | None = None) -> contracts.Decision:
        """Which of the offer's rules would allow or deny your organisation, and why."""
        return self._send("POST", contracts.Decision, f"/offers/{offer_id}/evaluate",
                          {"purpose": purpose, "mode": mode})

    def request_offer(self, offer_id: int, purpose: str, *, purpose_text: str | None = None,
                      terms: dict[str, Any] | None = None) -> contracts.NegotiationOut:
        """As a consumer, start a negotiation; `terms` (plan, period, price_fen, policy)
        makes it a counter-proposal. An instant offer taken as is comes back FINALIZED."""
        body: dict[str, Any] = {"offer_id": offer_id, "purpose": purpose,
                                "purpose_text": purpose_text}
        if terms is not None:
            body["terms"] = terms
        return self._send("POST", contracts.NegotiationOut, "/negotiations", body)

    def counter_offer(self, negotiation_id: int, terms: dict[str, Any], *,
                      note: str | None = None) -> contracts.NegotiationOut:
        """Provider: counter-offer (REQUESTED -> OFFERED)."""
        return self._send("POST", contracts.NegotiationOut,
                          f"/negotiations/{negotiation_id}/offer", {"terms": terms, "note": note})

    def counter_request(self, negotiation_id: int, terms: dict[str, Any], *,
                        note: str | None = None) -> contracts.NegotiationOut:
        """Consumer: counter-request (OFFERED -> REQUESTED)."""
        return self._send("POST", contracts.NegotiationOut,
                          f"/negotiations/{negotiation_id}/request",
                          {"terms": terms, "note": note})

    def _negotiation_message(self, negotiation_id: int, message: str,
                             note: str | None) -> contracts.NegotiationOut:
        return self._send("POST", contracts.NegotiationOut,
                          f"/negotiations/{negotiation_id}/{message}", {"note": note})

    def accept_offer(self, negotiation_id: int, *,
                     note: str | None = None) -> contracts.NegotiationOut:
        return self._negotiation_message(negotiation_id, "accept", note)

    def agree_negotiation(self, negotiation_id: int, *,
                          note: str | None = None) -> contracts.NegotiationOut:
        return self._negotiation_message(negotiation_id, "agree", note)

    def verify_negotiation(self, negotiation_id: int, *,
               note: str | None = None) -> contracts.NegotiationOut:
        return self._negotiation_message(negotiation_id, "verify", note)

    def finalize_negotiation(self, negotiation_id: int, *,
                 note: str | None = None) -> contracts.NegotiationOut:
        return self._negotiation_message(negotiation_id, "finalize", note)

    def terminate_negotiation(self, negotiation_id: int,
                              reason: str) -> contracts.NegotiationOut:
        return self._send("POST", contracts.NegotiationOut,
                          f"/negotiations/{negotiation_id}/terminate", {"reason": reason})

    def list_negotiations(
        self, *, role: str = "consumer", state: str | None = None, limit: int | None = None,
        page_token: str | None = None,
    ) -> Page[contracts.NegotiationOut]:
        return self._get(Page[contracts.NegotiationOut], "/negotiations", role=role,
                         state=state, limit=limit, page_token=page_token)

    def get_negotiation(self, negotiation_id: int) -> contracts.NegotiationOut:
        return self._get(contracts.NegotiationOut, f"/negotiations/{negotiation_id}")

    def list_agreements(self, *, role: str = "consumer", limit: int | None = None,
                        page_token: str | None = None) -> Page[contracts.AgreementOut]:
        return self._get(Page[contracts.AgreementOut], "/agreements", role=role, limit=limit,
                         page_token=page_token)

    def get_agreement(self, agreement_id: int) -> contracts.AgreementOut:
        return self._get(contracts.AgreementOut, f"/agreements/{agreement_id}")

    def terminate_agreement(self, agreement_id: int, reason: str) -> contracts.AgreementOut:
        return self._send("POST", contracts.AgreementOut,
                          f"/agreements/{agreement_id}/terminate", {"reason": reason})

    def confirm_deletion(self, agreement_id: int) -> contracts.AgreementOut:
        return self._send("POST", contracts.AgreementOut,
                          f"/agreements/{agreement_id}/confirm-deletion", {})

    # -- listing review -------------------------------------------------------------------

    def submit_listing(self, slug: str) -> review.ListingOut:
        """As the provider, submit a product for listing; the scan and quality report run on
        the server before this returns."""
        return self._send("POST", review.ListingOut, f"/products/{slug}/listing", {})

    def get_listing(self, slug: str) -> review.ListingOut:
        return self._get(review.ListingOut, f"/products/{slug}/listing")

    def listing_queue(self, *, status: str = "in_review", limit: int | None = None,
                      page_token: str | None = None) -> Page[review.ListingOut]:
        return self._get(Page[review.ListingOut], "/listings", status=status, limit=limit,
                         page_token=page_token)

    def approve_listing(self, listing_id: int, *, provider_bp: int = 9000,
                        platform_bp: int = 1000, broker_org_id: int | None = None,
                        broker_bp: int = 0, note: str | None = None) -> review.ListingOut:
        body = {"split": {"provider_bp": provider_bp, "platform_bp": platform_bp,
                          "broker_org_id": broker_org_id, "broker_bp": broker_bp},
                "note": note}
        return self._send("POST", review.ListingOut, f"/listings/{listing_id}/approve", body)

    def reject_listing(self, listing_id: int, reasons: list[str], *,
                       note: str | None = None) -> review.ListingOut:
        return self._send("POST", review.ListingOut, f"/listings/{listing_id}/reject",
                          {"reasons": reasons, "note": note})

    def delist(self, slug: str, reason: str) -> review.ListingOut:
        return self._send("POST", review.ListingOut, f"/products/{slug}/delist",
                          {"reason": reason})

    # -- sandbox differential privacy: privacy budgets ----------------------------------

    def privacy_budget(self, entitlement_id: int) -> sandbox.PrivacyBudgetOut:
        """The ε budget of an entitlement (consumer or provider): total, spent, remaining."""
        return self._get(sandbox.PrivacyBudgetOut,
                         f"/entitlements/{entitlement_id}/privacy-budget")

    def set_privacy_budget(self, entitlement_id: int, epsilon: float,
                           refresh: str | None = None) -> sandbox.PrivacyBudgetOut:
        """As the product's provider, set (or raise) an entitlement's total ε; `refresh`
        "daily" or "monthly" forgets what was spent at each period's start."""
        return self._send("PUT", sandbox.PrivacyBudgetOut,
                          f"/entitlements/{entitlement_id}/privacy-budget",
                          {"epsilon": epsilon, "refresh": refresh})



def _dp_body(sql: str, epsilon: float | None, margin: float | None,
             confidence: float) -> dict[str, Any]:
    body: dict[str, Any] = {"sql": sql}
    if epsilon is not None:
        body["epsilon"] = epsilon
    if margin is not None:
        body["accuracy"] = {"margin": margin, "confidence": confidence}
    return body


def _check(response: httpx.Response) -> None:
    """Raise the server's error answer as ShuguAPIError."""
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        raise ShuguAPIError(response.status_code, err["code"], err["message"],
                            err.get("details"))
    except (ValueError, KeyError, TypeError):
        raise ShuguAPIError(response.status_code, "http_error", response.text[:500]) from None


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
