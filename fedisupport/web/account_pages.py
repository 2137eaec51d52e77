"""People's accounts on the web: sign up, log in and out, settings, deletion, and admin approval.

Every page works without JavaScript. Forms post back to their own URL; a mistake comes back as
the same form with each message tied to its field, and success redirects (303) to a page that
says what happened, so reloading never sends a form twice.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import re
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, data_export, profile, registration, site_policy
from ..domain.account_deletion import LastAdmin, delete_account
from ..domain.errors import Conflict, DomainError
from ..models import PERSON, Actor, User
from . import auth
from .forms import text_field
from ..i18n import _, lazy_gettext, ngettext

MAX_PASSWORD_LENGTH: Final = 1000
MAX_DISPLAY_NAME_LENGTH: Final = 100
MAX_BIO_LENGTH: Final = 2000
INVITE_LIFETIMES: Final = {"1": dt.timedelta(days=1), "7": dt.timedelta(days=7), "30": dt.timedelta(days=30), "never": None}
# Control characters other than tab and newline have no place in a name or a bio.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# What people read when something needs changing. Plain, warm, and saying what to do next.
MESSAGES: Final = {
    # Translated when shown (lazy_gettext), in the language of the page.
    "username_format": lazy_gettext("Please use 1 to 30 lowercase letters, numbers or underscores, like quiet_river."),
    "username_reserved": lazy_gettext("That name is kept for the people who run this site. Please choose another."),
    "username_taken": lazy_gettext("Someone here already uses that name. Please choose another."),
    "password_short": lazy_gettext("Please use at least %(min)s characters. "
                                   "A few words in a row are easy to remember and hard to guess.",
                                   min=accounts.MIN_PASSWORD_LENGTH),
    "password_long": lazy_gettext("Please use at most %(max)s characters.", max=MAX_PASSWORD_LENGTH),
    "password_mismatch": lazy_gettext("The two passwords don't match. Please type them again."),
    "invite_missing": lazy_gettext("Please enter the invite code you were given."),
    "invite_invalid": lazy_gettext("That invite code isn't working. It may have been used up or have expired. "
                                   "Please check it, or ask the person who gave it to you for a new one."),
    "login_failed": lazy_gettext("That name and password don't match an account here. Please check them and try again."),
    "current_password_wrong": lazy_gettext("That isn't your current password. Please try again."),
    "display_name_long": lazy_gettext("Please keep your display name to %(max)s characters or fewer.",
                                      max=MAX_DISPLAY_NAME_LENGTH),
    "bio_long": lazy_gettext("Please keep this to %(max)s characters or fewer.", max=MAX_BIO_LENGTH),
    "confirm_mismatch": lazy_gettext("That isn't your username. Type it exactly as shown to delete your account."),
    "last_admin": lazy_gettext("You're the only admin here, so nobody else could look after this site. "
                               "Please ask whoever hosts it to add another admin first."),
}


# --- responses -------------------------------------------------------------------------------


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page, with any cookie changes this request made (new session, CSRF seed, sign-out)."""
    response = request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)
    return auth.apply_cookies(request, response)


def redirect(request: Request, url: str) -> Response:
    # 303: the browser follows with a GET, so reloading the next page never repeats the POST.
    return auth.apply_cookies(request, RedirectResponse(url, status_code=303))


async def _site(request: Request):
    async with request.app.state.sessions() as session:
        return await accounts.get_site(session)


async def _verify_password(password_hash: str, password: str) -> bool:
    # argon2id takes tens of milliseconds of CPU on purpose; off the event loop, others wait less.
    return await asyncio.to_thread(accounts.verify_password, password_hash, password)


@functools.lru_cache(maxsize=1)
def _hash_for_unknown_names() -> str:
    return accounts.hash_password("no account has this password")


def _check_new_username(name: str, errors: dict[str, str]) -> str:
    """The name as it will be stored (lowercased), noting in `errors` why it can't be used."""
    try:
        name = accounts.check_username(name)
    except DomainError:
        errors["username"] = MESSAGES["username_format"]
        return name
    if name in accounts.RESERVED_NAMES:
        errors["username"] = MESSAGES["username_reserved"]
    return name


def _check_new_password(password: str, again: str, errors: dict[str, str], field: str = "password") -> None:
    if len(password) < accounts.MIN_PASSWORD_LENGTH:
        errors[field] = MESSAGES["password_short"]
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors[field] = MESSAGES["password_long"]
    elif password != again:
        errors[field + "_again"] = MESSAGES["password_mismatch"]


def _wait_message(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return ngettext("There have been several tries in a row, so we've paused logins for this name for a little while "
                    "to keep the account safe. Please try again in about %(num)s minute.",
                    "There have been several tries in a row, so we've paused logins for this name for a little while "
                    "to keep the account safe. Please try again in about %(num)s minutes.", minutes)


# --- sign up ---------------------------------------------------------------------------------


async def signup(request: Request) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        mode = await registration.registration_mode(session)
        rules = await site_policy.instance_rules(session)  # shown before anyone joins
    page = functools.partial(render, request, "signup.html", site=site, mode=mode, me=me, rules=rules)

    if request.method == "GET":
        if me is not None:
            return page(state="welcome" if "welcome" in request.query_params else "signed_in")
        if "requested" in request.query_params:
            return page(state="requested")
        if mode == registration.CLOSED:
            return page(state="closed")
        invite = request.query_params.get("invite", "")[:64]
        return page(state="form", values={"invite": invite}, errors={})

    form = await auth.csrf_protect(request)
    if me is not None:
        return redirect(request, "/signup")
    if mode == registration.CLOSED:
        return page(state="closed", status_code=403)
    values = {"username": text_field(form, "username", 64).strip(), "invite": text_field(form, "invite", 64).strip()}
    password, again = text_field(form, "password", MAX_PASSWORD_LENGTH + 1), text_field(form, "password_again", MAX_PASSWORD_LENGTH + 1)
    errors: dict[str, str] = {}
    values["username"] = _check_new_username(values["username"], errors)
    _check_new_password(password, again, errors)
    if mode == registration.INVITE and not values["invite"]:
        errors["invite"] = MESSAGES["invite_missing"]
    if not errors:
        try:
            async with db.transaction(request.app.state.sessions) as session:
                user = await registration.sign_up(session, request.app.state.settings, values["username"], password,
                                                  invite_code=values["invite"])
        except registration.RegistrationClosed:
            return page(state="closed", status_code=403)
        except registration.InvalidInvite:
            errors["invite"] = MESSAGES["invite_invalid"]
        except (Conflict, IntegrityError):  # IntegrityError: someone took the name a moment earlier
            errors["username"] = MESSAGES["username_taken"]
        except DomainError:
            errors["username"] = MESSAGES["username_format"]
    if errors:
        return page(state="form", values=values, errors=errors, status_code=400)
    if not user.approved:
        return redirect(request, "/signup?requested=1")
    async with db.transaction(request.app.state.sessions) as session:
        await auth.start_session(session, request, await session.get(User, user.id))
    return redirect(request, "/signup?welcome=1")


# --- log in and out --------------------------------------------------------------------------


async def login(request: Request) -> Response:
    me = await auth.current_user(request)
    next_path = auth.safe_next(request.query_params.get("next"))
    site = await _site(request)
    page = functools.partial(render, request, "login.html", site=site, next_path=next_path)

    if request.method == "GET":
        if me is not None:
            return page(me=me)
        return page(values={}, errors={}, logged_out="logged_out" in request.query_params)

    form = await auth.csrf_protect(request)
    next_path = auth.safe_next(text_field(form, "next", 2000), next_path)
    settings = request.app.state.settings
    username = _login_name(text_field(form, "username", 300), settings.domain)
    password = text_field(form, "password", MAX_PASSWORD_LENGTH + 1)
    values = {"username": username}
    throttle, key = auth.login_throttle(request), auth.throttle_key(request, username)
    if wait := throttle.wait_seconds(key):
        return page(values=values, errors={"password": _wait_message(wait)}, next_path=next_path, status_code=429)

    async with request.app.state.sessions() as session:
        row = (await session.execute(
            select(User, Actor.suspended).join(Actor, Actor.id == User.actor_id)
            .where(Actor.local.is_(True), Actor.kind == PERSON, Actor.domain == settings.domain,
                   Actor.username == username, Actor.deleted_at.is_(None))
        )).first() if username else None
    user, suspended = row if row is not None else (None, False)
    # Checked outside any transaction: argon2 takes a while, and a connection shouldn't wait on it.
    # Unknown names cost the same time as wrong passwords, so timing can't tell which names exist.
    password_ok = await _verify_password(user.password_hash if user else _hash_for_unknown_names(), password)
    if user is None or not password_ok:
        throttle.failed(key)
        return page(values=values, errors={"password": MESSAGES["login_failed"]}, next_path=next_path, status_code=400)
    throttle.succeeded(key)
    if not user.approved:
        # Said only once the password is right, so it tells a stranger nothing.
        return page(values=values, errors={}, pending=True, next_path=next_path, status_code=403)
    if suspended:
        return page(values=values, errors={}, suspended=True, next_path=next_path, status_code=403)
    async with db.transaction(request.app.state.sessions) as session:
        user = await session.get(User, user.id)
        if user is None:  # deleted a moment ago
            return page(values=values, errors={"password": MESSAGES["login_failed"]}, next_path=next_path,
                        status_code=400)
        await auth.start_session(session, request, user)
    return redirect(request, next_path)


def _login_name(typed: str, domain: str) -> str:
    """The name from what someone typed: people often give their whole handle, @name@domain."""
    name = typed.strip().lower().removeprefix("@")
    return name.removesuffix("@" + domain) if name.endswith("@" + domain) else name


async def logout(request: Request) -> Response:
    if request.method == "GET":
        # The header's fallback "Log out" link lands on /login, which offers the button.
        return redirect(request, "/login")
    await auth.csrf_protect(request)
    async with db.transaction(request.app.state.sessions) as session:
        await auth.end_session(session, request)
    return redirect(request, "/login?logged_out=1")


# --- settings --------------------------------------------------------------------------------


def _clean_text(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


@auth.login_required
async def settings_profile(request: Request) -> Response:
    me = await auth.current_user(request)
    site = await _site(request)
    page = functools.partial(render, request, "settings_profile.html", site=site, me=me)
    if request.method == "GET":
        values = {"display_name": me.actor.display_name, "bio": me.actor.summary}
        return page(values=values, errors={}, saved="saved" in request.query_params)

    form = await auth.csrf_protect(request)
    values = {"display_name": " ".join(_clean_text(text_field(form, "display_name", 1000)).split()),
              "bio": _clean_text(text_field(form, "bio", 20_000))}
    errors: dict[str, str] = {}
    if len(values["display_name"]) > MAX_DISPLAY_NAME_LENGTH:
        errors["display_name"] = MESSAGES["display_name_long"]
    if len(values["bio"]) > MAX_BIO_LENGTH:
        errors["bio"] = MESSAGES["bio_long"]
    if errors:
        return page(values=values, errors=errors, status_code=400)
    async with db.transaction(request.app.state.sessions) as session:
        actor = await session.get(Actor, me.actor.id)
        await profile.update_profile(session, request.app.state.settings, actor,
                                     display_name=values["display_name"], bio=values["bio"])
    return redirect(request, "/settings/profile?saved=1")


@auth.login_required
async def settings_password(request: Request) -> Response:
    me = await auth.current_user(request)
    site = await _site(request)
    page = functools.partial(render, request, "settings_password.html", site=site, me=me)
    if request.method == "GET":
        return page(errors={}, saved="saved" in request.query_params)

    form = await auth.csrf_protect(request)
    current = text_field(form, "current_password", MAX_PASSWORD_LENGTH + 1)
    new, again = text_field(form, "new_password", MAX_PASSWORD_LENGTH + 1), text_field(form, "new_password_again", MAX_PASSWORD_LENGTH + 1)
    # Guessing the current password from a stolen session is throttled like guessing at login.
    throttle, key = auth.login_throttle(request), auth.throttle_key(request, me.username)
    if wait := throttle.wait_seconds(key):
        return page(errors={"current_password": _wait_message(wait)}, status_code=429)
    errors: dict[str, str] = {}
    if not await _verify_password(me.user.password_hash, current):
        throttle.failed(key)
        errors["current_password"] = MESSAGES["current_password_wrong"]
    _check_new_password(new, again, errors, field="new_password")
    if errors:
        return page(errors=errors, status_code=400)
    throttle.succeeded(key)
    new_hash = await asyncio.to_thread(accounts.hash_password, new)
    async with db.transaction(request.app.state.sessions) as session:
        user = await session.get(User, me.user_id)
        user.password_hash = new_hash
        # A new session here, and every other one ended: whoever else had a way in has lost it.
        await auth.start_session(session, request, user)
        await auth.end_other_sessions(session, user.id, keep_session_id=request.state.current_user.session_id)
    return redirect(request, "/settings/password?saved=1")


@auth.login_required
async def settings_delete(request: Request) -> Response:
    me = await auth.current_user(request)
    site = await _site(request)
    page = functools.partial(render, request, "settings_delete.html", site=site, me=me)
    if request.method == "GET":
        return page(errors={}, values={})

    form = await auth.csrf_protect(request)
    confirm = text_field(form, "confirm_username", 64).strip()
    if confirm.lower() != me.username:
        return page(errors={"confirm_username": MESSAGES["confirm_mismatch"]}, values={"confirm_username": confirm},
                    status_code=400)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            await delete_account(session, request.app.state.settings, await session.get(User, me.user_id))
            await auth.end_session(session, request)
    except LastAdmin:
        return page(errors={"confirm_username": MESSAGES["last_admin"]}, values={"confirm_username": confirm},
                    status_code=409)
    # The Delete is queued; wake this process's worker so it leaves now rather than at the next poll.
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.work_available.set()
    return page(deleted=True, me=None)


# --- admin: who may sign up ------------------------------------------------------------------


@auth.admin_required
async def admin_registrations(request: Request) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        mode = await registration.registration_mode(session)
        pending = await registration.pending_accounts(session)
        invites = await registration.usable_invites(session)
    return render(request, "admin_registrations.html", site=site, me=me, mode=mode, modes=registration.REGISTRATION_MODES,
                  pending=pending, invites=invites, done=request.query_params.get("done", ""),
                  new_code=request.query_params.get("code", ""), error=None)


@auth.admin_required
async def admin_set_mode(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    mode = text_field(form, "mode", 16)
    if mode not in registration.REGISTRATION_MODES:
        raise HTTPException(400, _("Please choose one of the ways people can sign up."))
    async with db.transaction(request.app.state.sessions) as session:
        await registration.set_registration_mode(session, mode)
    return redirect(request, "/admin/registrations?done=mode")


def _user_id(request: Request) -> int:
    try:
        return int(request.path_params["user_id"])
    except ValueError:
        raise HTTPException(404, _("We couldn't find that account.")) from None


@auth.admin_required
async def admin_approve(request: Request) -> Response:
    await auth.csrf_protect(request)
    async with db.transaction(request.app.state.sessions) as session:
        found = await registration.approve_account(session, _user_id(request))
    return redirect(request, "/admin/registrations?done=" + ("approved" if found else "gone"))


@auth.admin_required
async def admin_decline(request: Request) -> Response:
    await auth.csrf_protect(request)
    async with db.transaction(request.app.state.sessions) as session:
        found = await registration.decline_account(session, _user_id(request))
    return redirect(request, "/admin/registrations?done=" + ("declined" if found else "gone"))


@auth.admin_required
async def admin_create_invite(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    me = await auth.current_user(request)
    lifetime = text_field(form, "expires", 8)
    try:
        max_uses = int(text_field(form, "max_uses", 8) or "1")
    except ValueError:
        max_uses = 0
    if lifetime not in INVITE_LIFETIMES or not 1 <= max_uses <= registration.MAX_INVITE_USES:
        raise HTTPException(400, f"An invite can be used 1 to {registration.MAX_INVITE_USES} times, "
                                 "and lasts a day, a week, a month or until it is used up.")
    async with db.transaction(request.app.state.sessions) as session:
        invite = await registration.create_invite(session, await session.get(User, me.user_id), max_uses=max_uses,
                                                  expires_in=INVITE_LIFETIMES[lifetime])
    return redirect(request, f"/admin/registrations?done=invite&code={invite.code}")


@auth.login_required
async def settings_export(request: Request) -> Response:
    """A person downloads everything held about them (a POST, so no link can trigger it)."""
    me = await auth.current_user(request)
    if request.method == "GET":
        site = await _site(request)
        return render(request, "settings_export.html", site=site, me=me)
    await auth.csrf_protect(request)
    async with request.app.state.sessions() as session:
        data = await data_export.export_person(session, await session.get(User, me.user.id))
    body = json.dumps(data, ensure_ascii=False, indent=2)
    filename = f"fedisupport-{me.username}.json"
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/signup", signup, methods=["GET", "POST"], name="signup"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["GET", "POST"], name="logout"),
        Route("/settings/profile", settings_profile, methods=["GET", "POST"], name="settings_profile"),
        Route("/settings/password", settings_password, methods=["GET", "POST"], name="settings_password"),
        Route("/settings/delete", settings_delete, methods=["GET", "POST"], name="settings_delete"),
        Route("/settings/export", settings_export, methods=["GET", "POST"], name="settings_export"),
        Route("/admin/registrations", admin_registrations, name="admin_registrations"),
        Route("/admin/registrations/mode", admin_set_mode, methods=["POST"], name="admin_registration_mode"),
        Route("/admin/registrations/invites", admin_create_invite, methods=["POST"], name="admin_create_invite"),
        Route("/admin/registrations/{user_id}/approve", admin_approve, methods=["POST"], name="admin_approve"),
        Route("/admin/registrations/{user_id}/decline", admin_decline, methods=["POST"], name="admin_decline"),
    ]
