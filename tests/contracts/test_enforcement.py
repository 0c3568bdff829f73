"""An agreement's entitlement is what Delta Sharing enforces: 64 concurrent /query requests
over real HTTP against a quota of 10 from an agreement, expiry and termination at the next
request, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from shugu.client import Client
from shugu.db import utcnow
from tests.conftest import LiveServer
from tests.contracts.conftest import SLUG, make_policy, quota
from tests.sharing.conftest import ingest, source, write_profile


@pytest.fixture
def table(provider: Client, product: str) -> str:
    provider.create_table(SLUG, "load")
    ingest(provider, SLUG, "load", source(0, 20))
    return "load"


def agreement(provider: Client, consumer: Client, *constraints: dict[str, Any]) -> int:
    oid = provider.create_offer(SLUG, "按次", plan="per_query", price_fen=5_00,
                                policy=make_policy(*constraints)).id
    n = consumer.request_offer(oid, "credit_risk")
    assert n.state == "FINALIZED" and n.agreement_id is not None
    return n.agreement_id


def query(server: LiveServer, token: str, http: httpx.Client | None = None) -> httpx.Response:
    url = f"{server.url}/delta-sharing/shares/{SLUG}/schemas/default/tables/load/query"
    headers = {"Authorization": f"Bearer {token}"}
    if http is not None:
        return http.post(url, json={}, headers=headers)
    return httpx.post(url, json={}, headers=headers, timeout=60)


def bearer(consumer: Client, server: LiveServer, tmp_path: Path) -> str:
    import json
    return str(json.loads(Path(write_profile(consumer, server, tmp_path / "p.share"))
                          .read_text())["bearerToken"])


def test_64_concurrent_queries_against_an_agreed_quota_of_10(
        provider: Client, consumer: Client, table: str, server: LiveServer,
        tmp_path: Path) -> None:
    aid = agreement(provider, consumer, quota(10))
    token = bearer(consumer, server, tmp_path)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(64)

    def worker() -> None:
        with httpx.Client(timeout=120) as http:
            start.wait()
            r = query(server, token, http)
            code = None if r.status_code == 200 else r.json().get("shuguCode")
            with lock:
                results.append((r.status_code, code))

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 64
    assert Counter(results) == {(200, None): 10, (403, "quota_exceeded"): 54}
    e = consumer.get_entitlement(consumer.get_agreement(aid).entitlement_id)  # type: ignore[arg-type]
    assert (e.used.queries, e.quotas.queries) == (10, 10)
    kinds = Counter(u.kind for u in consumer.usage(entitlement_id=e.id).items)
    assert kinds["share.query"] == 10


def test_expiry_takes_effect_at_the_next_request(provider: Client, consumer: Client,
                                                 table: str, server: LiveServer,
                                                 tmp_path: Path) -> None:
    aid = agreement(provider, consumer, {"leftOperand": "elapsedTime", "operator": "lteq",
                                         "rightOperand": "PT2S"})
    token = bearer(consumer, server, tmp_path)
    assert query(server, token).status_code == 200
    until = consumer.get_agreement(aid).valid_until
    assert until is not None
    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.1)
    refused = query(server, token)
    assert refused.status_code == 403
    assert refused.json()["shuguCode"] == "not_entitled"


def test_termination_takes_effect_at_the_next_request(provider: Client, consumer: Client,
                                                      table: str, server: LiveServer,
                                                      tmp_path: Path) -> None:
    aid = agreement(provider, consumer)
    token = bearer(consumer, server, tmp_path)
    assert query(server, token).status_code == 200
    consumer.terminate_agreement(aid, "不再需要")
    refused = query(server, token)
    assert refused.status_code == 403
    assert refused.json()["shuguCode"] == "not_entitled"
