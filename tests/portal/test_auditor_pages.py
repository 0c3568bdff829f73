"""The auditor's portal pages over real HTTP: the ledger explorer and its proof JSON, the
certificate verifier and the voucher evidence verifier. Overseers (the platform operator,
auditor organisations) see them; anyone else gets 404."""

from __future__ import annotations

import json
import time
from contextlib import closing
from datetime import datetime

import httpx

from shugu.billing.periods import CST
from shugu.client import Client
from shugu.ledger import proofs
from shugu.ledger.events import commitment, leaf_data_v2, sth_message
from shugu.ledger.merkle import leaf_hash
from shugu.platform_key import verify_signature
from shugu.runtime import Exchange
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, csrf_of, post_form, signed_in_web
from tests.portal.test_operator_pages import UNTRANSLATED, agreement_on, now_cst
from tests.rights.conftest import draft, make_product, through


def test_auditor_pages_refuse_everyone_else(server: LiveServer, signup: Signup) -> None:
    auditor = signup(["auditor"], "审计事务所")
    with closing(signed_in_web(server, auditor)) as web:
        for lang in ("zh", "en"):
            for path in ("/auditor", "/auditor/ledger", "/auditor/ledger/0",
                         "/auditor/certificates", "/auditor/vouchers"):
                page = web.get(f"{path}?lang={lang}")
                assert page.status_code == 200, path
                assert not UNTRANSLATED.search(page.text), (path, lang)
    member = signup(["provider", "consumer", "broker"], "普通公司")
    with closing(signed_in_web(server, member)) as web:
        for path in ("/auditor", "/auditor/ledger", "/auditor/ledger/0",
                     "/auditor/ledger/tree-head.json", "/auditor/ledger/0/inclusion.json",
                     "/auditor/certificates", "/auditor/certificates?number=SG-DIP-1",
                     "/auditor/vouchers", "/auditor/vouchers/SG-V-1/evidence.json"):
            assert web.get(path).status_code == 404, path
        csrf = csrf_of(web.get("/").text)
        for action in ("/auditor/certificates", "/auditor/vouchers"):
            response = web.post(action, data={"csrf_token": csrf, "file": "{}",
                                              "bundle": "{}"})
            assert response.status_code == 404, action
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        assert anonymous.get("/auditor/ledger/tree-head.json").status_code == 303


def test_ledger_explorer_and_proof_json(server: LiveServer, exchange: Exchange,
                                        signup: Signup) -> None:
    auditor = signup(["auditor"], "审计事务所")
    with closing(signed_in_web(server, auditor)) as web:
        page = web.get("/auditor/ledger?lang=en")
        assert page.status_code == 200 and "organization.created" in page.text
        filtered = web.get("/auditor/ledger?action=token.created")
        assert "token.created" in filtered.text and "organization.created</a></td>" \
            not in filtered.text
        assert web.get("/auditor/ledger?page_token=garbage").status_code == 400
        event = web.get("/auditor/ledger/1")
        assert event.status_code == 200
        assert 'src="/static/auditor.js"' in event.text and "shugu ledger verify" in event.text
        assert web.get("/auditor/ledger/99999").status_code == 404
        sth = web.get("/auditor/ledger/tree-head.json").json()
        proof = web.get(f"/auditor/ledger/1/inclusion.json?tree_size={sth['size']}").json()
    # What the page's script checks, done here with the Python verifier: they agree.
    assert verify_signature(sth["public_key"],
                            sth_message(sth["size"], sth["root"], sth["timestamp"]),
                            sth["signature"])
    data = json.loads(event.text.split('id="proof-data">', 1)[1].split("</script>", 1)[0])
    e = data["event"]
    o = e["opening"]
    assert commitment(o["actor"], o["subject"], o["payload_json"], o["salt"]) == e["commitment"]
    leaf = leaf_hash(leaf_data_v2(e["seq"], e["ts"], e["action"], e["subject"], e["commitment"]))
    assert leaf.hex() == proof["leaf_hash"] == data["leaf_hash"]
    assert proofs.verify_inclusion(leaf, 1, sth["size"],
                                   [bytes.fromhex(h) for h in proof["audit_path"]],
                                   bytes.fromhex(sth["root"]))


def test_certificate_verifier(server: LiveServer, exchange: Exchange, operator: Client,
                              signup: Signup) -> None:
    provider = signup(["provider"], "电力数据公司")
    auditor = signup(["auditor"], "审计事务所")
    slug = make_product(provider.api, "power-cert")
    number = through(operator, provider.api, exchange, draft(provider.api, slug))
    cert_file = operator.certificate_file(number).model_dump(mode="json")
    with closing(signed_in_web(server, auditor)) as web:
        lookup = web.get(f"/auditor/certificates?number={number}&lang=en")
        assert lookup.status_code == 200 and 'id="public-status">valid' in lookup.text
        assert web.get("/auditor/certificates?number=SG-DIP-0000").status_code == 404
        good = post_form(web, "/auditor/certificates", "/auditor/certificates",
                         {"file": json.dumps(cert_file, ensure_ascii=False)})
        assert good.status_code == 200
        assert "✓ The certificate file is valid" in good.text and number in good.text
        tampered = json.loads(json.dumps(cert_file))
        tampered["certificate"]["holder"] = {"name": "别人"}
        bad = post_form(web, "/auditor/certificates", "/auditor/certificates",
                        {"file": json.dumps(tampered)})
        assert bad.status_code == 200 and "✗ The certificate file failed" in bad.text
        assert "signature does not match" in bad.text
        junk = post_form(web, "/auditor/certificates", "/auditor/certificates",
                         {"file": "not json"})
        assert junk.status_code == 400 and "invalid_json" in junk.text
        other = post_form(web, "/auditor/certificates", "/auditor/certificates",
                          {"file": "{}"})
        assert other.status_code == 200 and "Not a certificate file" in other.text
        assert web.post("/auditor/certificates",
                        data={"file": json.dumps(cert_file)}).status_code == 403


def test_voucher_verifier(server: LiveServer, exchange: Exchange, operator: Client,
                          signup: Signup) -> None:
    provider = signup(["provider"], "用电数据公司")
    consumer = signup(["consumer"], "银行")
    auditor = signup(["auditor"], "审计事务所")
    agreement_on(provider, consumer, operator, "power-voucher", price_fen=50_000)
    time.sleep(1.1)  # the cut-off is to the second, after the agreement
    operator.run_billing(datetime.fromisoformat(now_cst()).replace(tzinfo=CST))
    [voucher] = operator.settle().vouchers
    with closing(signed_in_web(server, auditor)) as web:
        evidence = web.get(f"/auditor/vouchers/{voucher}/evidence.json")
        assert evidence.status_code == 200
        bundle = evidence.json()
        good = post_form(web, "/auditor/vouchers", "/auditor/vouchers",
                         {"bundle": json.dumps(bundle, ensure_ascii=False)})
        assert good.status_code == 200 and 'id="voucher-verdict"' in good.text
        assert "✗" not in good.text.split('id="voucher-checks"', 1)[1].split("</ul>")[0]
        bundle["voucher"]["invoice"]["total_fen"] = 1
        bad = post_form(web, "/auditor/vouchers", "/auditor/vouchers",
                        {"bundle": json.dumps(bundle)})
        assert bad.status_code == 200 and "✗" in bad.text
        assert post_form(web, "/auditor/vouchers", "/auditor/vouchers",
                         {"bundle": "[1]"}).status_code == 400
        assert web.get("/auditor/vouchers/SG-V-NONE/evidence.json").status_code == 404
