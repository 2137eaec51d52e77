"""Locked out: an admin makes a one-time link (/admin/reset-link), the person opens it (/reset/{token}).

The domain side, and why there is no email, is in domain/password_resets.py.
"""
from __future__ import annotations

import asyncio
import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, password_resets
from ..domain.errors import DomainError
from ..i18n import _
from ..models import User
from . import auth
from .account_pages import MAX_PASSWORD_LENGTH, _check_new_password, _site, redirect, render
from .forms import text_field


def _private(response: Response) -> Response:
    # The page holds a working link or a form behind one: never kept by a cache or a shared browser.
    response.headers["Cache-Control"] = "no-store"
    return response


@auth.admin_required
async def admin_reset_link(request: Request) -> Response:
    me = await auth.current_user(request)
    site = await _site(request)
    page = functools.partial(render, request, "admin_reset_link.html", site=site, me=me)
    if request.method == "GET":
        return _private(page(errors={}, values={}, link=None))
    form = await auth.csrf_protect(request)
    username = text_field(form, "username", 300).strip().lstrip("@")
    try:
        async with db.transaction(request.app.state.sessions) as session:
            admin = await session.get(User, me.user_id)
            link = await password_resets.make_link(session, request.app.state.settings, username, by=admin)
    except DomainError as exc:
        return _private(page(errors={"username": str(exc)}, values={"username": username}, link=None, status_code=400))
    return _private(page(errors={}, values={}, link=link, username=username,
                         hours=int(password_resets.LIFETIME.total_seconds() // 3600)))


async def reset_password(request: Request) -> Response:
    token = request.path_params["token"]
    await auth.current_user(request)  # the form's CSRF token depends on who is here
    site = await _site(request)
    page = functools.partial(render, request, "reset_password.html", site=site, token=token)
    async with request.app.state.sessions() as session:
        user = await password_resets.user_for(session, token)
    if user is None:
        return _private(page(errors={}, expired=True, status_code=404))
    if request.method == "GET":
        return _private(page(errors={}, expired=False))
    form = await auth.csrf_protect(request)
    new, again = text_field(form, "new_password", MAX_PASSWORD_LENGTH + 1), text_field(form, "new_password_again", MAX_PASSWORD_LENGTH + 1)
    errors: dict[str, str] = {}
    _check_new_password(new, again, errors, field="new_password")
    if errors:
        return _private(page(errors=errors, expired=False, status_code=400))
    new_hash = await asyncio.to_thread(accounts.hash_password, new)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            user = await password_resets.use(session, token, new_hash)
            await auth.start_session(session, request, user)
    except DomainError:  # spent by another tab a moment ago
        return _private(page(errors={}, expired=True, status_code=404))
    return redirect(request, "/settings/password?saved=1")


def routes() -> list[Route]:
    return [
        Route("/admin/reset-link", admin_reset_link, methods=["GET", "POST"], name="admin_reset_link"),
        Route("/reset/{token}", reset_password, methods=["GET", "POST"], name="reset_password"),
    ]
