"""Certificates: the signed file, offline verification, the HTML page, the public status."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.client import Client
from shugu.jsoncanon import canonical_bytes
from shugu.platform_key import PlatformKey, verify_signature
from shugu.rights import certfile
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.rights.conftest import api_error, expire

SHUGU = [sys.executable, "-m", "shugu.cli"]


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHUGU, "cert", "verify", *args], capture_output=True, text=True,
                          timeout=120)


def test_certificate_content_and_signature(operator: Client, provider: Client, orgs: Orgs,
                                           certificate: str, product: str,
                                           exchange: Exchange) -> None:
    stranger = orgs.new(["consumer"])
    cert = stranger.certificate(certificate)  # a public fact: any organisation reads it
    assert cert.status == "valid" and cert.product == product
    c = cert.file.certificate
    me = provider.me()
    assert c["number"] == certificate
    assert c["holder"]["name"] == me.organization.name
    assert c["holder"]["uscc"] == me.organization.uscc
    assert [r["code"] for r in c["rights"]] == ["holding", "processing_use", "operation"]
    assert c["fingerprint"]["root"] == provider.fingerprint(product, 1).root
    assert c["revision"]["number"] == 1 and c["product"]["slug"] == product
    assert c["issuer"]["name"] == "数谷数据交易平台"
    assert (cert.valid_until - cert.issued_at).days == 3 * 365
    sig = cert.file.signature
    assert sig.public_key == exchange.key.public_b64 == operator.platform_key().public_key
    assert sig.key_id == exchange.key.key_id
    assert verify_signature(sig.public_key, canonical_bytes(c), sig.value)
    assert certfile.verify(cert.file.model_dump(mode="json"), exchange.key.public_b64).ok
    assert [x.number for x in provider.certificates().items] == [certificate]
    assert stranger.certificates().items == []
    assert len(operator.certificates().items) == 1
    assert api_error(lambda: stranger.certificate("SG-DIP-2000-999999")).code == \
        "certificate_not_found"
    # The ledger commits to the exact content signed.
    event = provider.events(action="certificate.issued").items[0]
    assert event.payload["content_sha256"] == hashlib.sha256(canonical_bytes(c)).hexdigest()


def test_offline_verification_and_tampering(provider: Client, certificate: str,
                                            server: LiveServer, exchange: Exchange,
                                            tmp_path: Path) -> None:
    path = tmp_path / "cert.json"
    path.write_text(provider.certificate_file(certificate).model_dump_json(), "utf-8")
    key = exchange.key.public_b64
    good = verify_cli(str(path), "--public-key", key)
    assert good.returncode == 0, good.stderr
    assert "valid" in good.stdout and certificate in good.stdout
    fetched = verify_cli(str(path), "--url", server.url)
    assert fetched.returncode == 0, fetched.stderr
    embedded = verify_cli(str(path))
    assert embedded.returncode == 0 and "no trusted key" in embedded.stderr
    # Change the holder: the signature no longer matches.
    doc = json.loads(path.read_text("utf-8"))
    doc["certificate"]["holder"]["name"] = "冒名公司"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    bad = verify_cli(str(tampered), "--public-key", key)
    assert bad.returncode == 1 and "signature does not match" in bad.stderr
    # Re-signed by someone else's key: the key is not the platform's.
    forger = PlatformKey(Ed25519PrivateKey.generate())
    doc["signature"] = certfile.sign(doc["certificate"], forger)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    untrusted = verify_cli(str(forged), "--public-key", key)
    assert untrusted.returncode == 1 and "not by the trusted platform key" in untrusted.stderr
    doc["signature"]["key_id"] = "0000000000000000"
    forged.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    assert "does not belong" in verify_cli(str(forged)).stderr
    (tmp_path / "junk.json").write_text("{}", "utf-8")
    assert verify_cli(str(tmp_path / "junk.json")).returncode == 2
    # Expired: the signature holds, the validity does not.
    expire(exchange, certificate)
    old = json.loads(path.read_text("utf-8"))
    old["certificate"]["valid_until"] = "2020-01-01T00:00:00Z"
    verdict = certfile.verify(old, key)
    assert any("expired" in p for p in verdict.problems)
    assert any("signature does not match" in p for p in verdict.problems)


def test_html_and_public_status(operator: Client, provider: Client, orgs: Orgs,
                                certificate: str, server: LiveServer,
                                exchange: Exchange) -> None:
    page = provider.certificate_html(certificate)
    assert "数据知识产权登记证书" in page and certificate in page and "@media print" in page
    assert provider.me().organization.name in page
    embedded = page.split('<script type="application/json" id="certificate">')[1]
    embedded = embedded.split("</script>")[0]
    assert certfile.verify(json.loads(embedded), exchange.key.public_b64).ok
    # The public status needs no token; the HTML page does.
    anonymous = httpx.get(f"{server.url}/api/v1/public/certificates/{certificate}", timeout=60)
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["status"] == "valid" and body["encumbrances"] == []
    assert body["holder"] == provider.me().organization.name
    assert httpx.get(f"{server.url}/api/v1/certificates/{certificate}.html",
                     timeout=60).status_code == 401
    assert httpx.get(f"{server.url}/api/v1/public/certificates/nope", timeout=60).status_code == 404
    key = httpx.get(f"{server.url}/api/v1/public/platform-key", timeout=60).json()
    assert key["public_key"] == exchange.key.public_b64
    expire(exchange, certificate)
    assert Client(server.url).certificate_status(certificate).status == "expired"
    assert provider.certificate(certificate).status == "expired"
