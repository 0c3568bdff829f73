"""/api/v1/docs and /api/v1/redoc come entirely from shugu: the pages name no other origin,
their assets load from the server, and Swagger UI renders in a browser whose every request
to anywhere else is cut off."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def references(html: str) -> list[str]:
    """Every URL the page loads: src/href attributes and the JS string literals ending in
    a known asset or API suffix."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""["']([^"'\s]+\.(?:js|css|png|json))["']""", html)
    return found


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_docs_pages_name_no_other_origin(server: LiveServer, page: str) -> None:
    answer = httpx.get(server.url + page, timeout=60)
    assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
    html = answer.text
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    urls = references(html)
    assert urls, html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = httpx.get(server.url + url, timeout=60)
        assert loaded.status_code == 200, url
        assert len(loaded.content) > 100, url
        suffix = re.search(r"\.[a-z]+$", url)
        if suffix and suffix.group(0) in TYPES:
            assert TYPES[suffix.group(0)] in loaded.headers["content-type"], url
    # The assets live under one path of the API, and nothing but them.
    missing = httpx.get(f"{server.url}/api/v1/docs-assets/nope.js", timeout=60)
    assert missing.status_code == 404


def test_swagger_ui_renders_with_the_network_cut_off(server: LiveServer,
                                                     browser: Any) -> None:
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/api/v1/docs")
        page.wait_for_selector(".opblock", timeout=60_000)
        assert page.locator(".opblock").count() > 50
        assert "shugu" in page.locator(".information-container").inner_text()
        assert elsewhere == []
    finally:
        context.close()
