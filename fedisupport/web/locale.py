"""Which language each page is in, and the switcher that changes it.

The reader's own choice (the `fs_lang` cookie the switcher sets; signing in sets it from
`User.locale`) comes first, then their browser's Accept-Language, then the site's default
language, then English. `LocaleMiddleware` decides once per request, before any handler runs,
so the text Python code makes (form errors, 403/404 pages) is in the same language as the
templates; `template_context` gives every page `page_lang`, `page_dir` and the switcher's data.
"""
from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import i18n
from ..models import Site, User
from .care import parse_accept_language

log = logging.getLogger("fedisupport.web")

LANG_COOKIE = "fs_lang"
LANG_COOKIE_MAX_AGE = 400 * 24 * 3600
# The site's default language changes rarely; reading it at most this often keeps pages cheap.
SITE_DEFAULT_TTL = 30.0


def from_accept_language(header: str | None) -> str | None:
    """The first of the reader's languages that we have: `fr, es-MX;q=0.8` -> `es`."""
    for tag, _quality in parse_accept_language(header):
        found = i18n.supported(tag)
        if found:
            return found
    return None


async def _site_default(app: Any) -> str | None:
    cached = getattr(app.state, "site_language_cache", None)
    now = time.monotonic()
    if cached and cached[1] > now:
        return cached[0]
    sessions = getattr(app.state, "sessions", None)
    value = None
    if sessions is not None:
        try:
            async with sessions() as db:
                value = i18n.supported((await db.execute(select(Site.default_language).limit(1))).scalar())
        except SQLAlchemyError:  # a database not set up yet must not turn every page into a 500
            log.warning("could not read the site's default language", exc_info=True)
    app.state.site_language_cache = (value, now + SITE_DEFAULT_TTL)
    return value


async def choose(request: Request) -> str:
    return (i18n.supported(request.cookies.get(LANG_COOKIE))
            or from_accept_language(request.headers.get("accept-language"))
            or await _site_default(request.app)
            or i18n.DEFAULT)


def _add_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    wanted = ["Accept-Language", "Cookie"]
    out = []
    for name, value in headers:
        if name.lower() == b"vary":
            present = {v.strip().lower() for v in value.decode("latin-1").split(",")}
            wanted = [w for w in wanted if w.lower() not in present]
            if wanted:
                value = value + b", " + ", ".join(wanted).encode()
            wanted = []
        out.append((name, value))
    if wanted:
        out.append((b"vary", ", ".join(wanted).encode()))
    return out


class LocaleMiddleware:
    """Sets the request's language before the handler runs; HTML answers say they vary by it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        code = await choose(request)
        i18n.activate(code)
        scope.setdefault("state", {})["language"] = code

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") or any(n.lower() == b"location" for n, _ in headers):
                    message["headers"] = _add_vary(headers)
            await send(message)

        await self.app(scope, receive, send_with_vary)


def template_context(request: Request) -> dict[str, Any]:
    """For every page: its language and direction, and what the switcher needs."""
    code = getattr(request.state, "language", None)
    if code:
        i18n.activate(code)  # an error page rendered outside the middleware's task
    language = i18n.current()
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "page_lang": language.code,
        "page_dir": language.direction,
        "languages": list(i18n.LANGUAGES.values()),
        "switcher_next": here,
    }


async def set_language(request: Request) -> Response:
    """/language?lang=es&next=/c/x: the switcher's plain GET form. Sets the cookie and goes back.

    It only changes the reader's own language, so it needs no CSRF token; a signed-in person's
    choice is also kept on their account, unless the request came from another site.
    """
    from . import auth

    code = i18n.supported(request.query_params.get("lang")) or i18n.DEFAULT
    target = auth.safe_next(request.query_params.get("next"))
    response = RedirectResponse(quote(target, safe="/?=&%#:;,+@!$'()*~"), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=LANG_COOKIE_MAX_AGE, path="/",
                        secure=not request.app.state.settings.insecure_http, httponly=True, samesite="lax")
    if request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
        me = await auth.current_user(request)
        if me is not None and me.user.locale != code:
            async with request.app.state.sessions() as db:
                user = await db.get(User, me.user_id)
                if user is not None:
                    user.locale = code
                    await db.commit()
        auth.apply_cookies(request, response)
    return response


def remember_on_sign_in(request: Request, user: User) -> None:
    """Signing in on a new browser brings back the language the person chose before."""
    from . import auth

    code = i18n.supported(user.locale)
    if code:
        auth._queue_cookie(request, LANG_COOKIE, code, LANG_COOKIE_MAX_AGE)


def routes() -> list[Route]:
    return [Route("/language", set_language, name="set_language")]
