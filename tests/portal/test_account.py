"""My account: change the password, see and revoke sessions, sign out everywhere else."""

from __future__ import annotations

import re

import httpx
import pytest

from shugu.client import Client, ShuguAPIError
from tests.conftest import LiveServer
from tests.portal.conftest import Member, Signup, csrf_of, post_form, sign_in, signed_in_web


def test_password_sessions_and_sign_out_elsewhere(signup: Signup, server: LiveServer) -> None:
    member = signup(["consumer"], "杭州银行")
    stranger = signup(["consumer"], "别家银行")
    phone, laptop = signed_in_web(server, member), signed_in_web(server, member)
    other = signed_in_web(server, stranger)
    try:
        page = laptop.get("/account")
        assert page.status_code == 200 and "我的账户" in page.text
        assert page.text.count("<td>login <code>") == 2  # two portal sessions so far
        assert page.text.count("当前会话") == 1

        # Wrong current password, mismatch, too short: refused, nothing changed.
        wrong = post_form(laptop, "/account", "/account/password", {
            "current_password": "nope", "new_password": "new-secret-1",
            "repeat_password": "new-secret-1"})
        assert wrong.status_code == 403 and "<code>wrong_password</code>" in wrong.text
        differ = post_form(laptop, "/account", "/account/password", {
            "current_password": member.password, "new_password": "new-secret-1",
            "repeat_password": "new-secret-2"})
        assert differ.status_code == 400 and "passwords_differ" in differ.text
        short = post_form(laptop, "/account", "/account/password", {
            "current_password": member.password, "new_password": "short",
            "repeat_password": "short"})
        assert short.status_code == 400 and "password_too_short" in short.text
        assert laptop.post("/account/password", data={
            "current_password": member.password, "new_password": "new-secret-1",
            "repeat_password": "new-secret-1"}).status_code == 403  # no CSRF token
        changed = post_form(laptop, "/account", "/account/password", {
            "current_password": member.password, "new_password": "new-secret-1",
            "repeat_password": "new-secret-1"})
        assert changed.status_code == 303 and "done=account_password" in changed.headers[
            "location"]
        with httpx.Client(base_url=server.url, timeout=60) as fresh:
            assert sign_in(fresh, member).status_code == 401
            assert sign_in(fresh, Member(member.username, "new-secret-1", member.api)) \
                .status_code == 303

        # Another organisation cannot revoke this user's tokens.
        token_id = re.findall(r'id="revoke-(\d+)"', laptop.get("/account").text)[0]
        refused = other.post(f"/account/tokens/{token_id}/revoke",
                             data={"csrf_token": csrf_of(other.get("/account").text)})
        assert refused.status_code == 404

        # Sign out everywhere else: the phone's session ends, the laptop's goes on.
        assert phone.get("/consumer").status_code == 200
        out = post_form(laptop, "/account", "/account/sign-out-others", {})
        assert out.status_code == 303
        assert phone.get("/consumer").status_code == 303  # back to the sign-in page
        assert laptop.get("/consumer").status_code == 200
        # Revoking the current session signs out.
        page = laptop.get("/account").text
        current = re.search(r'aria-current="true">.*?id="revoke-(\d+)"', page, re.S)
        assert current is not None
        gone = laptop.post(f"/account/tokens/{current.group(1)}/revoke",
                           data={"csrf_token": csrf_of(page)})
        assert gone.status_code == 303 and gone.headers["location"] == "/login"
        assert laptop.get("/account").status_code == 303
    finally:
        for c in (phone, laptop, other):
            c.close()


def test_change_password_through_the_api(signup: Signup, server: LiveServer) -> None:
    member = signup(["provider"], "电网")
    with pytest.raises(ShuguAPIError) as info:
        member.api.change_password("wrong", "another-secret")
    assert (info.value.status, info.value.code) == (403, "wrong_password")
    member.api.change_password(member.password, "another-secret")
    Client(server.url).login(member.username, "another-secret")
