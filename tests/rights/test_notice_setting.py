"""SHUGU_PUBLIC_NOTICE_SECONDS and SHUGU_CERTIFICATE_VALIDITY_DAYS take effect."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shugu.client import Client
from shugu.config import Settings
from tests.rights.conftest import api_error, draft, to_notice


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SHUGU_PUBLIC_NOTICE_SECONDS", "3")
    monkeypatch.setenv("SHUGU_CERTIFICATE_VALIDITY_DAYS", "30")
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def test_a_short_notice_runs_out_by_itself(operator: Client, provider: Client,
                                          product: str) -> None:
    reg_id = draft(provider, product)
    to_notice(operator, provider, reg_id)
    reg = provider.registration(reg_id)
    assert reg.notice_end is not None and reg.notice_start is not None
    assert (reg.notice_end - reg.notice_start).total_seconds() == 3
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "notice_not_ended"
    time.sleep(max(0.0, (reg.notice_end - reg.notice_start).total_seconds()) + 0.2)
    number = operator.issue_registration(reg_id).issued_certificate
    assert number is not None
    cert = provider.certificate(number)
    assert (cert.valid_until - cert.issued_at).days == 30
