"""Portal fixtures: members who sign in with a password, an httpx client for the pages,
and Debian's chromium driven by Playwright for whole journeys.

Portal tests run on SQLite: the portal holds no database code of its own, and every
service it calls is tested on both databases in its own domain. test_portal.py (sessions
and visibility) still runs on both.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shugu.client import Client
from tests.conftest import LiveServer, new_uscc

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SHUGU_SCREENSHOTS", ROOT / "build" / "screenshots"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shugu.db'}"


@dataclass
class Member:
    username: str
    password: str
    api: Client


Signup = Callable[[list[str], str], Member]


@pytest.fixture
def signup(operator: Client, server: LiveServer) -> Iterator[Signup]:
    """signup(roles, name): a new organisation whose admin can sign in to the portal."""
    made: list[Client] = []

    def new(roles: list[str], name: str) -> Member:
        uscc = new_uscc()
        created = operator.create_organization(uscc, f"{name}{uscc[-5:]}", roles,
                                               f"u{uscc[-7:]}")
        assert created.admin_password is not None
        api = Client(server.url, created.token.secret)
        api.org_id = created.organization.id  # type: ignore[attr-defined]
        made.append(api)
        return Member(created.admin.username, created.admin_password, api)

    yield new
    for c in made:
        c.close()


@pytest.fixture
def web(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(web: httpx.Client, member: Member, password: str | None = None,
            next: str = "/") -> httpx.Response:
    page = web.get("/login")
    assert page.status_code == 200
    return web.post("/login", data={"csrf_token": csrf_of(page.text), "next": next,
                                    "username": member.username,
                                    "password": password or member.password})


def signed_in_web(server: LiveServer, member: Member) -> httpx.Client:
    """A fresh httpx client already signed in as member (close it when done)."""
    c = httpx.Client(base_url=server.url, follow_redirects=False, timeout=60)
    assert sign_in(c, member).status_code == 303
    return c


def post_form(web: httpx.Client, page_path: str, action: str,
              data: dict[str, str]) -> httpx.Response:
    """Submit a form the way a browser would: read the CSRF token from the page first."""
    page = web.get(page_path)
    assert page.status_code == 200, page.text[:500]
    return web.post(action, data={"csrf_token": csrf_of(page.text), **data})


# --- the browser -------------------------------------------------------------------------

def chromium_path() -> str:
    found = os.environ.get("SHUGU_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is not installed (scripts/test installs it: "
                    "apt-get install chromium)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


class Browsing:
    """Pages in separate browser contexts (one per member, like separate people), with
    screenshots saved under build/screenshots/<test>/."""

    def __init__(self, browser: object, server: LiveServer, test_name: str) -> None:
        self.browser = browser
        self.server = server
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]", "_", test_name)
        self.contexts: list[object] = []
        self.count = 0

    def page_for(self, member: Member | None, *, lang: str = "zh",
                 mobile: bool = False) -> object:
        """A new page signed in as member (through the real sign-in form)."""
        viewport = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 900}
        context = self.browser.new_context(  # type: ignore[attr-defined]
            base_url=self.server.url, viewport=viewport,
            locale="zh-CN" if lang == "zh" else "en-US")
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(f"/lang/{lang}?next=/login")
        if member is not None:
            page.fill("input[name=username]", member.username)
            page.fill("input[name=password]", member.password)
            page.click("form.login button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
        return page

    def shot(self, page: object, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    def close(self) -> None:
        for c in self.contexts:
            c.close()  # type: ignore[attr-defined]


@pytest.fixture
def browsing(browser: object, server: LiveServer,
             request: pytest.FixtureRequest) -> Iterator[Browsing]:
    b = Browsing(browser, server, request.node.name)
    yield b
    b.close()
