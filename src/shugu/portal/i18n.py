"""The portal's message catalogue: Chinese by default, English on request."""

from __future__ import annotations

from fastapi import Request

from shugu.portal.messages import auditor, consumer, core, operator, provider

DEFAULT = "zh"
COOKIE = "shugu_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}

def _merge() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
    for module in (core, provider, consumer, operator, auditor):
        merged["zh"].update(module.ZH)
        merged["en"].update(module.EN)
    return merged


MESSAGES: dict[str, dict[str, str]] = _merge()


def requested(request: Request) -> str | None:
    """The language asked for in the query string, if it is one we have."""
    lang = request.query_params.get("lang")
    return lang if lang in MESSAGES else None


def language(request: Request) -> str:
    """?lang= first, then the cookie, then Chinese."""
    cookie = request.cookies.get(COOKIE)
    return requested(request) or (cookie if cookie in MESSAGES else DEFAULT)


def translator(lang: str) -> Translate:
    return Translate(MESSAGES[lang])


class Translate:
    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages

    def __call__(self, key: str, **values: object) -> str:
        # A missing key shows itself rather than failing the page; tests check both
        # catalogues have the same keys.
        text = self.messages.get(key, key)
        # Counts in sentences get digit grouping (12,345 products), as the tables do.
        grouped = {k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v
                   for k, v in values.items()}
        return text.format(**grouped) if values else text

    def code(self, prefix: str, value: object) -> str:
        """A stable code (status, plan, frequency …) in words, or the code itself when the
        catalogue has no words for it."""
        if value is None or value == "":
            return "—"
        return self.messages.get(f"{prefix}.{value}", str(value))
