"""schemathesis over the whole OpenAPI against a live server, on SQLite and PostgreSQL, as the
operator and as a consumer of a seeded trade: no 5xx, and every answer matches the declared
status codes, content types and response schemas.

Each operation gets generated requests (random path values, and the real ids of the trade
so that requests get past "not found" into the operation itself), positive and negative
(data violating the schema, which must be refused with a 4xx). The whole walk is reported
at once: every failing operation with its first failing request.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Trade

# Examples per operation and principal; SHUGU_FUZZ_EXAMPLES raises it for a deeper run.
EXAMPLES = int(os.environ.get("SHUGU_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# Operations that would end the walk for everyone after them (the caller's own token).
SKIP = {("POST", "/api/v1/tokens/{token_id}/revoke"), ("DELETE", "/api/v1/tokens/{token_id}")}


def _fuzz(trade: Trade, schema: Any, token: str) -> list[str]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    # Reads first, so that the writes (withdrawals, terminations) do not starve them.
    operations.sort(key=lambda op: (op.method.upper() != "GET", op.path))
    for op in operations:
        if (op.method.upper(), op.path) in SKIP:
            continue
        known = trade.known(op.path)
        strategies = [op.as_strategy(mode) for mode in (GenerationMode.POSITIVE,
                                                       GenerationMode.NEGATIVE)]
        if known:
            strategies.append(op.as_strategy(GenerationMode.POSITIVE,
                                             path_parameters=known))
        failure = _run(op.label, st.one_of(strategies), session, headers, trade.server.url)
        if failure:
            failures.append(failure)
    return failures


def _run(label: str, strategy: st.SearchStrategy[Any], session: requests.Session,
         headers: dict[str, str], base_url: str) -> str | None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers,
                             timeout=60)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # failure groups too: every operation is reported
        return f"{label}: {str(exc)[:1500]}"
    return None


@pytest.mark.slow
def test_no_5xx_and_every_answer_as_declared(trade: Trade) -> None:
    doc = httpx.get(f"{trade.server.url}/api/v1/openapi.json", timeout=120).json()
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    for who, client in (("operator", trade.operator), ("consumer", trade.consumer)):
        assert client.token
        failures += [f"[{who}] {f}" for f in _fuzz(trade, schema, client.token)]
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
