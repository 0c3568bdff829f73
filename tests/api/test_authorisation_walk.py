"""Every operation of the OpenAPI, walked anonymously and with the token of an organisation
that is party to nothing (reads and writes, with schema-valid requests aimed at the real
objects of a seeded trade): nothing is leaked and nothing is changed.

Anonymous callers get 401 everywhere but PUBLIC. Another organisation gets a refusal
(401/403/404, or a 4xx on its input) everywhere but ANY_ORGANISATION, and even there no
answer may carry a private mark of the trade (its agreement, invoice, settlement and voucher
numbers). These two lists are the whole policy: an operation not
named in them that answers 2xx to a stranger fails the walk.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.api.conftest import Trade

# Open to anyone, without a token, and why.
PUBLIC = {
    ("GET", "/api/v1/health"): "liveness probe, says only the version",
    ("GET", "/api/v1/public/certificates/{number}"): "a certificate's status is public so that "
    "anyone handed a certificate can check it (docs/rights.md)",
    ("GET", "/api/v1/public/platform-key"): "the key that verifies certificates and vouchers",
    ("POST", "/api/v1/auth/login"): "signing in; only a right password gets a token",
    # The public marketplace: the public data of listed products only.
    ("GET", "/api/v1/search"): "the catalogue of listed products",
    ("GET", "/api/v1/products"): "the catalogue of listed products",
    ("GET", "/api/v1/products/{slug}"): "a listed product's description",
    ("GET", "/api/v1/products/{slug}/offers"): "a listed product's public offers",
    ("GET", "/api/v1/offers/{offer_id}"): "a public offer of a listed product",
    ("GET", "/api/v1/products/{slug}/listing"): "a listed product's quality report",
    ("GET", "/api/v1/products/{slug}/certificates"): "the public status of a listed "
    "product's certificates",
    ("GET", "/api/v1/registrations"): "registrations in public notice (公示)",
    ("GET", "/api/v1/public/notices"): "registrations in public notice (公示)",
    ("GET", "/api/v1/public/notices/{registration_id}"): "one registration in public notice",
    # The ledger's public form: actions, times, public subjects and commitments; payloads
    # only to their parties (docs/ledger.md). The marks are checked in these answers too.
    ("GET", "/api/v1/ledger/public-key"): "the platform's ledger key",
    ("GET", "/api/v1/ledger/tree-head"): "the signed tree head",
    ("GET", "/api/v1/ledger/events"): "the public form of the log",
    ("GET", "/api/v1/ledger/events/{seq}"): "the public form of one event",
    ("GET", "/api/v1/ledger/events/{seq}/inclusion"): "a proof over the public form",
    ("GET", "/api/v1/ledger/consistency"): "a proof over the public form",
    ("POST", "/api/v1/ledger/openings/verify"): "checks a bundle the caller sends",
}

# Open to every authenticated organisation (answers scoped to the caller or public data of
# listed products), and why.
ANY_ORGANISATION = {
    **PUBLIC,
    ("GET", "/api/v1/me"): "the caller itself",
    ("GET", "/api/v1/organizations"): "the member directory: USCC, name and roles, facts of "
    "the public business register",
    ("GET", "/api/v1/organizations/{org_id}"): "one entry of the member directory",
    ("GET", "/api/v1/registrations/{registration_id}"): "a registration in public notice or "
    "issued is public (公示, docs/rights.md); drafts are 404",
    ("GET", "/api/v1/registrations/{registration_id}/objections"): "objections to a "
    "registration in public notice are part of the notice",
    ("GET", "/api/v1/tokens"): "the caller's own tokens",
    ("POST", "/api/v1/tokens"): "a token for the caller itself",
    ("POST", "/api/v1/me/password"): "the caller's own password (the current one checked)",
    ("POST", "/api/v1/sharing/profile"): "a Delta Sharing profile for the caller's own "
    "entitlements",
    ("GET", "/api/v1/products/{slug}/revisions"): "revisions of a listed product",
    ("GET", "/api/v1/products/{slug}/revisions/{number}"): "a revision of a listed product",
    ("GET", "/api/v1/products/{slug}/revisions/{number}/fingerprint"):
        "the 存证 of a listed product's published revision: recomputable by any holder",
    ("GET", "/api/v1/products/{slug}/listing"): "a listed product's quality report",
    ("GET", "/api/v1/products/{slug}/sample"): "sample rows the provider chose to show",
    ("GET", "/api/v1/offers/{offer_id}"): "a public offer",
    ("POST", "/api/v1/offers/{offer_id}/evaluate"): "would the caller be allowed? (its own "
    "answer)",
    ("POST", "/api/v1/negotiations"): "requesting a public offer for oneself",
    ("GET", "/api/v1/negotiations"): "the caller's own negotiations",
    ("GET", "/api/v1/agreements"): "the caller's own agreements",
    ("GET", "/api/v1/entitlements"): "the caller's own entitlements",
    ("GET", "/api/v1/usage"): "the caller's own usage",
    ("GET", "/api/v1/invoices"): "the caller's own invoices",
    ("GET", "/api/v1/vouchers"): "the caller's own vouchers",
    ("POST", "/api/v1/vouchers/verify"): "checks a bundle the caller sends",
    ("GET", "/api/v1/billing/cost-items.csv"): "the caller's own cost items",
    ("GET", "/api/v1/certificates"): "the caller's own certificates",
    ("GET", "/api/v1/certificates/{number}"): "a certificate is a public credential "
    "(holder, product, rights, encumbrances), as on the public status page",
    ("GET", "/api/v1/certificates/{number}/file"): "the signed certificate file",
    ("GET", "/api/v1/certificates/{number}.html"): "the printable certificate",
    ("GET", "/api/v1/pledges"): "the caller's own pledges",
    ("GET", "/api/v1/sandbox/queries"): "the caller's own queries",
    ("GET", "/api/v1/sandbox/tables"): "the caller's own tables",
    ("PUT", "/api/v1/sandbox/tables/{name}"): "a table in the caller's own sandbox space",
    ("DELETE", "/api/v1/sandbox/tables/{name}"): "the caller's own table",
    ("GET", "/api/v1/sandbox/reviews"): "the caller's own review requests",
    ("POST", "/api/v1/sandbox/reviews"): "asking a provider to review a query",
    ("GET", "/delta-sharing/shares"): "the shares the caller is entitled to (none)",
    ("GET", "/api/v1/ledger/openings"): "the openings of the caller's own events",
}

# Operations that would end the walk for the caller itself, not touch the trade.
SKIP = {("POST", "/api/v1/tokens/{token_id}/revoke"), ("DELETE", "/api/v1/tokens/{token_id}")}
EXAMPLES = 3


def _marks(trade: Trade) -> list[str]:
    with trade.exchange.read() as s:
        from shugu.contracts.models import Agreement

        agreement = s.get(Agreement, trade.ids["agreement_id"])
        assert agreement is not None
        number = agreement.number
    return [number, str(trade.ids["invoice"]), str(trade.ids["settlement"]),
            str(trade.ids["voucher"])]


def _call(op: Any, trade: Trade, session: requests.Session, headers: dict[str, str],
          examples: int) -> list[tuple[int, str]]:
    """Schema-valid requests to `op`, aimed at the trade's objects: (status, body) each."""
    seen: list[tuple[int, str]] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(GenerationMode.POSITIVE, path_parameters=trade.known(op.path)))
    def call(case: Any) -> None:
        r = case.call(base_url=trade.server.url, session=session, headers=headers, timeout=60)
        seen.append((r.status_code, r.text))

    call()
    return seen


def _walk(trade: Trade, schema: Any, token: str | None) -> list[str]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    marks = _marks(trade)
    allowed = ANY_ORGANISATION if token else PUBLIC
    problems: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    # Reads first: the stranger's own writes (a refused query is recorded as its own) must
    # not be mistaken for the trade's objects.
    operations.sort(key=lambda op: (op.method.upper() != "GET", op.path))
    for op in operations:
        key = (op.method.upper(), op.path)
        if key in SKIP:
            continue
        seen = _call(op, trade, session, headers, 1 if token is None else EXAMPLES)
        for status, text in seen:
            if status >= 500:
                problems.append(f"{key}: {status} {text[:200]}")
            elif token is None and status < 400 and key not in PUBLIC:
                problems.append(f"{key}: {status} to an anonymous caller")
            elif token is None and status >= 400 and key not in PUBLIC and status not in (
                    401, 413, 422):
                problems.append(f"{key}: {status}, not 401, to an anonymous caller")
            elif status < 400 and key not in allowed:
                problems.append(f"{key}: {status} to another organisation: {text[:200]}")
            elif status < 400:
                leaked = [m for m in marks if m in text]
                if leaked:
                    problems.append(f"{key}: {status} shows {leaked} to a stranger")
    return problems


def test_nothing_leaks_to_strangers(trade: Trade) -> None:
    doc = httpx.get(f"{trade.server.url}/api/v1/openapi.json", timeout=120).json()
    schema = schemathesis.openapi.from_dict(doc)
    problems = [f"[anonymous] {p}" for p in _walk(trade, schema, None)]
    problems += [f"[other organisation] {p}" for p in _walk(trade, schema,
                                                          trade.outsider.token)]
    assert not problems, "\n".join(problems)
    # And nothing changed: the trade's parties still see it as it was.
    assert trade.consumer.get_agreement(int(str(trade.ids["agreement_id"]))).status == "active"
    assert trade.provider.get_offer(int(str(trade.ids["offer_id"]))).status == "active"
