"""Who is signed in, and proof that a form came from our own page.

Sessions live on the server. The cookie holds a random token; the `web_sessions` row is keyed by
the token's SHA-256, so the table alone opens no account. A session lasts 30 days past its last
use.

CSRF: every POST form carries a hidden `csrf_token` (`{{ csrf_field() }}` in a template). For a
signed-in person it is their session's token. For someone not signed in (the login and sign-up
forms) it is a signed double-submit token: a random seed in an HttpOnly cookie, and in the form
an HMAC of that seed under a server key, which a page on another site can neither read nor make.
Every form handler calls `csrf_protect(request)` before it changes anything.

Nothing here runs as middleware: `current_user` does its work the first time a handler asks and
keeps the answer on `request.state`. Cookie changes it decides on (a new session, a stale cookie
to clear, a new CSRF seed) are queued there too and written by `apply_cookies(request, response)`;
`account_pages.render` and `account_pages.redirect` call it.

Public helpers for other forms:
    me = await current_user(request)          # CurrentUser | None, cached per request
    @login_required / @admin_required         # wrap a handler; anonymous -> /login?next=...
    form = await csrf_protect(request)        # the parsed form, or a 403 page
    {{ csrf_field() }}                        # in templates, after current_user was awaited
"""
from __future__ import annotations

import collections
import datetime as dt
import functools
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Final
from urllib.parse import quote, urlsplit

from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..domain import accounts
from ..i18n import _, lazy_gettext
from ..models import Actor, User, utcnow
from ..models.auth import WebSession
from ..settings import Settings

log = logging.getLogger("fedisupport.web")

SESSION_LIFETIME: Final = dt.timedelta(days=30)
# Sliding the expiry is a write; doing it at most hourly keeps page views read-only.
SESSION_SLIDE_EVERY: Final = dt.timedelta(hours=1)
# The row's expires_at is the real, sliding limit. The cookie only has to outlive it, and only
# handlers that go through apply_cookies could re-send a shorter one, so it is set for the most
# browsers keep a cookie (400 days, RFC 6265bis); an expired row makes the cookie worthless.
SESSION_COOKIE_MAX_AGE: Final = 400 * 24 * 3600
CSRF_SEED_MAX_AGE: Final = 30 * 24 * 3600
CSRF_FIELD: Final = "csrf_token"
# Tokens we mint are 43 characters; anything much longer is not ours and is not hashed.
MAX_TOKEN_LENGTH: Final = 128
# Account forms are a handful of short fields; other forms may parse first with their own limits.
MAX_FORM_FIELDS: Final = 50
MAX_FORM_FIELD_BYTES: Final = 256 * 1024

CSRF_FAILED: Final = lazy_gettext(
    "For your safety we didn't accept that form: it had expired, or it came from another site. "
    "Nothing was changed. Please go back, reload the page and try again."
)

_UNRESOLVED: Final = object()


# --- cookies -----------------------------------------------------------------------------------


def session_cookie_name(settings: Settings) -> str:
    # `__Host-` makes browsers refuse the cookie unless it is Secure, host-only and Path=/, so no
    # sibling subdomain or plain-http page can plant or overwrite it. It needs https.
    return "fs_session" if settings.insecure_http else "__Host-fs_session"


def csrf_cookie_name(settings: Settings) -> str:
    return "fs_csrf" if settings.insecure_http else "__Host-fs_csrf"


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _queue_cookie(request: Request, name: str, value: str | None, max_age: int = 0) -> None:
    """Remember a cookie to set (or, with value None, to clear) on this request's response."""
    pending: dict[str, tuple[str | None, int]] = getattr(request.state, "auth_cookies", {})
    pending[name] = (value, max_age)
    request.state.auth_cookies = pending


def apply_cookies(request: Request, response: Response) -> Response:
    """Write the cookie changes this request decided on; every account response goes through here."""
    settings = _settings(request)
    for name, (value, max_age) in getattr(request.state, "auth_cookies", {}).items():
        if value is None:
            response.delete_cookie(name, path="/", secure=not settings.insecure_http, httponly=True, samesite="lax")
        else:
            response.set_cookie(name, value, max_age=max_age, path="/", secure=not settings.insecure_http,
                                httponly=True, samesite="lax")
    return response


# --- who is signed in --------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person for this request.

    `user` and `actor` are detached snapshots taken when the request began: read them freely,
    but load the rows again (session.get(User, me.user_id)) inside a transaction to change them.
    """

    user: User
    actor: Actor
    session_id: str
    csrf_token: str

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.actor.username

    @property
    def name(self) -> str:
        """What the header and greetings call them."""
        return self.actor.display_name or self.actor.username

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def current_user(request: Request) -> CurrentUser | None:
    """The signed-in person, or None. Looked up once per request, then kept on request.state.

    A session that has expired, or whose account is no longer approved, suspended or deleted,
    is removed, and its cookie cleared on the response.
    """
    cached = getattr(request.state, "current_user", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached
    await _prepare(request)
    settings = _settings(request)
    me: CurrentUser | None = None
    token = request.cookies.get(session_cookie_name(settings))
    if token:
        if len(token) <= MAX_TOKEN_LENGTH:
            me = await _load_session(request, hash_token(token))
        if me is None:
            _queue_cookie(request, session_cookie_name(settings), None)
    request.state.current_user = me
    return me


async def _load_session(request: Request, session_id: str) -> CurrentUser | None:
    async with request.app.state.sessions() as db:
        row = (await db.execute(
            select(WebSession, User, Actor).join(User, User.id == WebSession.user_id)
            .join(Actor, Actor.id == User.actor_id).where(WebSession.id == session_id)
        )).first()
        if row is None:
            return None
        web_session, user, actor = row
        now = utcnow()
        if web_session.expires_at <= now or not user.approved or actor.deleted_at is not None or actor.suspended:
            await db.delete(web_session)
            await db.commit()
            return None
        if now - web_session.last_seen_at >= SESSION_SLIDE_EVERY:
            web_session.last_seen_at = now
            web_session.expires_at = now + SESSION_LIFETIME
            await db.commit()
        return CurrentUser(user=user, actor=actor, session_id=web_session.id, csrf_token=web_session.csrf_token)


async def start_session(db: AsyncSession, request: Request, user: User) -> None:
    """Sign `user` in on this browser, in the caller's transaction.

    Always a new token, and any session the browser presented is ended first: a token planted
    before login (session fixation) never becomes a signed-in one.
    """
    settings = _settings(request)
    old = request.cookies.get(session_cookie_name(settings))
    if old and len(old) <= MAX_TOKEN_LENGTH:
        await db.execute(delete(WebSession).where(WebSession.id == hash_token(old)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    web_session = WebSession(id=hash_token(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                             created_at=now, last_seen_at=now, expires_at=now + SESSION_LIFETIME)
    db.add(web_session)
    user.last_login_at = now
    await db.flush()
    _queue_cookie(request, session_cookie_name(settings), token, SESSION_COOKIE_MAX_AGE)
    # The rest of this request sees the new session, not the cookie it arrived with.
    actor = await db.get(Actor, user.actor_id)
    request.state.current_user = CurrentUser(user=user, actor=actor, session_id=web_session.id,
                                             csrf_token=web_session.csrf_token)
    from .locale import remember_on_sign_in

    remember_on_sign_in(request, user)


async def end_session(db: AsyncSession, request: Request) -> None:
    """Sign this browser out (in the caller's transaction) and clear its cookie."""
    settings = _settings(request)
    token = request.cookies.get(session_cookie_name(settings))
    if token and len(token) <= MAX_TOKEN_LENGTH:
        await db.execute(delete(WebSession).where(WebSession.id == hash_token(token)))
    _queue_cookie(request, session_cookie_name(settings), None)
    request.state.current_user = None


async def end_other_sessions(db: AsyncSession, user_id: int, keep_session_id: str | None = None) -> None:
    """Sign a person out everywhere else (after a password change, say)."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_session_id is not None:
        query = query.where(WebSession.id != keep_session_id)
    await db.execute(query)


# --- where to go after logging in ----------------------------------------------------------------


def safe_next(target: str | None, default: str = "/") -> str:
    """A path on this site to continue to, or `default`. Never another site (no open redirects).

    Only a plain absolute path is accepted: not `//host` or `/\\host` (browsers read both as
    another host), no scheme, no backslashes or control characters anywhere.
    """
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def login_url(request: Request) -> str:
    """/login?next=<this page>, to come back here after logging in."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(safe_next(here), safe="/")


Handler = Callable[[Request], Awaitable[Response]]


def login_required(handler: Handler) -> Handler:
    """Only for signed-in people; anyone else is sent to log in, and back here afterwards."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        if await current_user(request) is None:
            return apply_cookies(request, RedirectResponse(login_url(request), status_code=303))
        return await handler(request)

    return wrapper


def admin_required(handler: Handler) -> Handler:
    """Only for admins: others who are signed in get a 403 page, anyone else is sent to log in."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        me = await current_user(request)
        if me is None:
            return apply_cookies(request, RedirectResponse(login_url(request), status_code=303))
        if not me.is_admin:
            raise HTTPException(403, _("This page is for the admins of this site."))
        return await handler(request)

    return wrapper


# --- CSRF --------------------------------------------------------------------------------------


async def _prepare(request: Request) -> None:
    """Once per process: the key for anonymous form tokens, and the template helpers."""
    state = request.app.state
    if getattr(state, "csrf_key", None) is None:
        state.csrf_key = await _csrf_key(request)
    install_template_globals(state.templates.env)


async def _csrf_key(request: Request) -> bytes:
    """The key anonymous form tokens are signed with; every process of the instance must agree.

    From the configured secret key when there is one (`fedisupport init` writes one). Otherwise
    from the instance actor's private key: secret, in the database every process shares, and
    never changed. A random key is the last resort; it is per process, so it is logged.
    """
    settings = _settings(request)
    if settings.secret_key:
        material = settings.secret_key.encode("utf-8")
    else:
        async with request.app.state.sessions() as db:
            instance = await accounts.local_actor_by_name(db, settings, accounts.INSTANCE_ACTOR_USERNAME)
        if instance is not None and instance.private_key_pem:
            material = instance.private_key_pem.encode("utf-8")
        else:
            log.warning("no secret_key and no instance actor: sign-up and login forms only work on this process")
            material = secrets.token_bytes(32)
    return hmac.new(material, b"fedisupport anonymous form tokens", hashlib.sha256).digest()


def _anonymous_token(request: Request, seed: str) -> str:
    return hmac.new(request.app.state.csrf_key, seed.encode("utf-8"), hashlib.sha256).hexdigest()


def _anonymous_seed(request: Request) -> str:
    """This browser's CSRF seed: from its cookie, or a new one sent with the response."""
    name = csrf_cookie_name(_settings(request))
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(name)
    if not seed or len(seed) > MAX_TOKEN_LENGTH:
        seed = secrets.token_urlsafe(32)
        _queue_cookie(request, name, seed, CSRF_SEED_MAX_AGE)
    request.state.csrf_seed = seed
    return seed


def csrf_token(request: Request) -> str:
    """The token this request's forms must carry. Needs `await current_user(request)` first."""
    me = getattr(request.state, "current_user", _UNRESOLVED)
    if me is _UNRESOLVED:
        raise RuntimeError("await current_user(request) before rendering a form: the CSRF token depends on it")
    if me is not None:
        return me.csrf_token
    return _anonymous_token(request, _anonymous_seed(request))


@pass_context
def csrf_field(context: Any) -> Markup:
    """`{{ csrf_field() }}`: the hidden input every POST form needs."""
    token = csrf_token(context["request"])
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


def install_template_globals(env: Any) -> None:
    env.globals.setdefault("csrf_field", csrf_field)


async def csrf_protect(request: Request) -> FormData:
    """Check the form's CSRF token and return the parsed form; a kind 403 page if it is wrong.

    Call it in every POST handler before changing anything. The session's token is accepted
    from a signed-in person; a valid anonymous token is accepted from anyone (it is bound to an
    HttpOnly cookie another site can neither read nor forge), so a login form opened before
    logging in elsewhere still works.

    It parses the form with small limits and no files; a handler that takes uploads parses the
    form first (`await request.form(...)`, which starlette keeps) with the limits it needs.
    """
    me = await current_user(request)
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES)
    sent = form.get(CSRF_FIELD)
    if isinstance(sent, str) and sent and len(sent) <= MAX_TOKEN_LENGTH:
        if me is not None and hmac.compare_digest(sent, me.csrf_token):
            return form
        seed = request.cookies.get(csrf_cookie_name(_settings(request)))
        if seed and len(seed) <= MAX_TOKEN_LENGTH and hmac.compare_digest(sent, _anonymous_token(request, seed)):
            return form
    raise HTTPException(403, str(CSRF_FAILED))


# --- failed logins -----------------------------------------------------------------------------


class LoginThrottle:
    """Failed logins per (address, name), in this process's memory.

    Keyed by both so that someone guessing at one account from one address is slowed, while the
    owner of that account, elsewhere, can still log in. After `limit` failures inside `window`,
    further tries wait until the oldest failure is out of the window.
    """

    def __init__(self, limit: int = 5, window: float = 15 * 60, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], collections.deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> collections.deque[float]:
        failures = self._failures.get(key, collections.deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait_seconds(self, key: tuple[str, str], now: float | None = None) -> float:
        """How long this key must wait before another try; 0 when it may try now."""
        now = time.monotonic() if now is None else now
        failures = self._recent(key, now)
        if len(failures) < self.limit:
            return 0.0
        return failures[-self.limit] + self.window - now

    def failed(self, key: tuple[str, str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        failures = self._recent(key, now)
        failures.append(now)
        self._failures.pop(key, None)
        self._failures[key] = failures  # most recently failed last, for trimming
        if len(self._failures) > self.max_keys:
            self._trim(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _trim(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        while len(self._failures) > self.max_keys:  # still full: forget the stalest keys
            del self._failures[next(iter(self._failures))]


def login_throttle(request: Request) -> LoginThrottle:
    """The app's throttle (per app, so several instances in one test process stay apart)."""
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle()
    return throttle


def throttle_key(request: Request, username: str) -> tuple[str, str]:
    address = request.client.host if request.client else "unknown"
    return address, username.strip().lower()[:64]
