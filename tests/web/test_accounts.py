"""People and sessions over real HTTP: sign-up in every registration mode, login, settings,
deletion, admin approval, and the protections around them (CSRF, throttling, cookies, redirects)."""
from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import re
from typing import AsyncIterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from fedisupport import db
from fedisupport.domain import accounts, registration
from fedisupport.models import Actor, Delivery, Follow, Invite, OutboxActivity, Site, User, WebSession, utcnow
from fedisupport.models.social import ACCEPTED
from fedisupport.web import auth

PASSWORD = "a long enough password"
AP_JSON = {"Accept": "application/activity+json"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers -----------------------------------------------------------------------------------


def said(response: httpx.Response) -> str:
    """The page's text with HTML entities decoded (templates escape apostrophes)."""
    return html.unescape(response.text)


def csrf_of(page_html: str) -> str:
    found = _CSRF.search(page_html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, str], *, form_page: str | None = None):
    """Open the form's page like a browser, then post the form with the token it carried."""
    page = await client.get(form_page or path)
    return await client.post(path, data={"csrf_token": csrf_of(page.text), **data})


async def set_mode(instance, mode: str) -> None:
    async with db.transaction(instance.sessions) as session:
        await registration.set_registration_mode(session, mode)


async def make_user(instance, name: str, *, admin: bool = False, approved: bool = True) -> User:
    async with db.transaction(instance.sessions) as session:
        return await accounts.create_user(session, instance.settings, name, PASSWORD, is_admin=admin, approved=approved)


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD, next_path: str | None = None):
    path = "/login" + (f"?next={next_path}" if next_path else "")
    page = await client.get(path)
    return await client.post(path, data={"csrf_token": csrf_of(page.text), "username": name, "password": password,
                                         "next": next_path or ""})


async def sign_up(client: httpx.AsyncClient, name: str, password: str = PASSWORD, **extra: str):
    return await post_form(client, "/signup", {"username": name, "password": password, "password_again": password, **extra})


async def user_named(instance, name: str) -> User | None:
    async with instance.sessions() as session:
        return await session.scalar(select(User).join(Actor, Actor.id == User.actor_id).where(Actor.username == name))


async def count(instance, model) -> int:
    async with instance.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


@contextlib.asynccontextmanager
async def admin_client(instance) -> AsyncIterator[httpx.AsyncClient]:
    """A browser logged in as a new admin."""
    await make_user(instance, "root_admin", admin=True)
    async with instance.client() as client:
        assert (await log_in(client, "root_admin")).status_code == 303
        yield client


# --- registration modes ------------------------------------------------------------------------


async def test_open_sign_up_makes_an_active_account_and_logs_in(instance):
    async with instance.client() as client:
        form = await client.get("/signup")
        assert form.status_code == 200
        for field in ("username", "password", "password_again"):
            assert f'<label for="{field}">' in form.text and f'id="{field}"' in form.text
        response = await sign_up(client, "ada")
        assert response.status_code == 303 and response.headers["location"] == "/signup?welcome=1"
        welcome = await client.get("/signup?welcome=1")
    assert "Welcome, ada" in welcome.text
    assert 'aria-label="Your account"' in welcome.text and "Log out</button>" in welcome.text
    user = await user_named(instance, "ada")
    assert user.approved and not user.is_admin and user.last_login_at is not None


async def test_sign_up_mistakes_come_back_tied_to_their_fields(instance):
    async with instance.client() as client:
        response = await post_form(client, "/signup", {"username": "Not OK!", "password": "short", "password_again": "short"})
    assert response.status_code == 400
    assert response.text.count('aria-invalid="true"') == 2
    assert 'aria-describedby="username-hint username-error"' in response.text
    assert 'id="username-error"' in response.text and 'id="password-error"' in response.text
    assert 'href="#username"' in response.text  # the summary links to the field
    assert "<title>Error: " in response.text
    assert 'value="Not OK!"' in response.text  # what they typed stays; the password never comes back
    assert await user_named(instance, "not_ok") is None


async def test_a_taken_or_reserved_name_is_refused_kindly(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        taken = await sign_up(client, "ADA")
        reserved = await sign_up(client, "admin")
        mismatch = await post_form(client, "/signup", {"username": "bea", "password": PASSWORD, "password_again": PASSWORD + "x"})
    assert taken.status_code == 400 and "already uses that name" in taken.text
    assert reserved.status_code == 400 and "kept for the people who run this site" in reserved.text
    assert mismatch.status_code == 400 and 'id="password_again-error"' in mismatch.text
    assert await count(instance, User) == 1


async def test_approval_mode_waits_for_an_admin(instance):
    await set_mode(instance, registration.APPROVAL)
    async with instance.client() as client:
        assert "checked by a person" in (await client.get("/signup")).text
        response = await sign_up(client, "ada")
        assert response.headers["location"] == "/signup?requested=1"
        assert auth.session_cookie_name(instance.settings) not in response.cookies
        assert "your request is in" in (await client.get("/signup?requested=1")).text
        assert not (await user_named(instance, "ada")).approved
        # Not public until approved: no profile, no WebFinger answer, no actor document.
        domain = instance.settings.domain
        assert (await client.get("/u/ada", headers={"Accept": "application/activity+json"})).status_code == 404
        assert (await client.get(f"/.well-known/webfinger?resource=acct:ada@{domain}")).status_code == 404

        refused = await log_in(client, "ada")
        assert refused.status_code == 403 and "waiting for approval" in refused.text
        assert auth.session_cookie_name(instance.settings) not in refused.cookies
    assert await count(instance, WebSession) == 0

    async with admin_client(instance) as admin:
        page = await admin.get("/admin/registrations")
        assert page.status_code == 200 and "Waiting for approval (1)" in page.text and "ada" in page.text
        user = await user_named(instance, "ada")
        approved = await admin.post(f"/admin/registrations/{user.id}/approve", data={"csrf_token": csrf_of(page.text)})
        assert approved.status_code == 303 and approved.headers["location"].endswith("done=approved")
        assert "Nobody is waiting right now" in (await admin.get("/admin/registrations")).text

    async with instance.client() as client:
        assert (await log_in(client, "ada")).status_code == 303
        assert (await client.get("/settings/profile")).status_code == 200
        assert (await client.get("/u/ada", headers={"Accept": "application/activity+json"})).status_code == 200


async def test_declining_removes_the_request_and_frees_the_name(instance):
    await set_mode(instance, registration.APPROVAL)
    async with instance.client() as client:
        await sign_up(client, "ada")
    user = await user_named(instance, "ada")
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/registrations")
        response = await admin.post(f"/admin/registrations/{user.id}/decline", data={"csrf_token": csrf_of(page.text)})
        assert response.headers["location"].endswith("done=declined")
        again = await admin.post(f"/admin/registrations/{user.id}/decline", data={"csrf_token": csrf_of(page.text)})
        assert again.headers["location"].endswith("done=gone")
    assert await user_named(instance, "ada") is None
    async with instance.sessions() as session:
        assert await accounts.local_actor_by_name(session, instance.settings, "ada") is None


async def test_admin_can_choose_the_registration_mode(instance):
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/registrations")
        assert 'id="mode-open" name="mode" value="open" aria-describedby="mode-open-hint" checked' in page.text
        response = await admin.post("/admin/registrations/mode", data={"csrf_token": csrf_of(page.text), "mode": "closed"})
        assert response.status_code == 303
        bad = await admin.post("/admin/registrations/mode", data={"csrf_token": csrf_of(page.text), "mode": "everyone"})
        assert bad.status_code == 400
    async with instance.sessions() as session:
        assert (await session.get(Site, 1)).registration_mode == "closed"


async def test_closed_mode_says_so_and_makes_no_account(instance):
    await set_mode(instance, registration.CLOSED)
    async with instance.client() as client:
        page = await client.get("/signup")
        assert page.status_code == 200 and "Sign-ups are closed" in page.text
        assert 'name="username"' not in page.text
        # A form opened before sign-ups closed still gets the kind page, and nothing is made.
        login_page = await client.get("/login")
        response = await client.post("/signup", data={"csrf_token": csrf_of(login_page.text), "username": "ada",
                                                      "password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 403 and "Sign-ups are closed" in response.text
    assert await user_named(instance, "ada") is None


async def test_non_admins_cannot_reach_the_admin_page(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        anonymous = await client.get("/admin/registrations")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/admin/registrations"
        await log_in(client, "ada")
        signed_in = await client.get("/admin/registrations")
        assert signed_in.status_code == 403 and "for the admins" in signed_in.text
        page = await client.get("/settings/profile")
        refused = await client.post("/admin/registrations/mode", data={"csrf_token": csrf_of(page.text), "mode": "closed"})
        assert refused.status_code == 403
    async with instance.sessions() as session:
        assert (await session.get(Site, 1)).registration_mode == "open"


# --- invites -------------------------------------------------------------------------------------


async def make_invite(instance, **kwargs) -> str:
    async with db.transaction(instance.sessions) as session:
        return (await registration.create_invite(session, None, **kwargs)).code


async def invite_uses(instance, code: str) -> int:
    async with instance.sessions() as session:
        return await session.scalar(select(Invite.uses).where(Invite.code == code))


async def test_invite_mode_needs_a_working_code(instance):
    await set_mode(instance, registration.INVITE)
    code = await make_invite(instance, max_uses=2)
    async with instance.client() as client:
        prefilled = await client.get(f"/signup?invite={code}")
        assert f'id="invite" name="invite" type="text" value="{code}"' in prefilled.text
        missing = await sign_up(client, "ada")
        assert missing.status_code == 400 and "enter the invite code" in missing.text
        wrong = await sign_up(client, "ada", invite="not-a-code")
        assert wrong.status_code == 400 and "invite code isn't working" in said(wrong)
        assert (await sign_up(client, "ada", invite=code)).status_code == 303
    async with instance.client() as client:
        # A name that turns out to be taken costs the code no use.
        assert (await sign_up(client, "ada", invite=code)).status_code == 400
        assert await invite_uses(instance, code) == 1
        assert (await sign_up(client, "bea", invite=code)).status_code == 303
    async with instance.client() as client:
        used_up = await sign_up(client, "cy", invite=code)
    assert used_up.status_code == 400 and "used up or have expired" in used_up.text
    assert await invite_uses(instance, code) == 2
    assert await user_named(instance, "cy") is None


async def test_an_expired_invite_does_not_work(instance):
    await set_mode(instance, registration.INVITE)
    code = await make_invite(instance, max_uses=5, expires_in=dt.timedelta(days=1))
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Invite).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    async with instance.client() as client:
        response = await sign_up(client, "ada", invite=code)
    assert response.status_code == 400 and await user_named(instance, "ada") is None


async def test_admin_makes_invite_codes(instance):
    async with admin_client(instance) as admin:
        page = await admin.get("/admin/registrations")
        response = await admin.post("/admin/registrations/invites",
                                    data={"csrf_token": csrf_of(page.text), "max_uses": "3", "expires": "7"})
        assert response.status_code == 303
        code = response.headers["location"].split("code=")[1]
        listed = await admin.get(response.headers["location"])
        assert instance.url(f"/signup?invite={code}") in listed.text and "0 of 3" in listed.text
        too_many = await admin.post("/admin/registrations/invites",
                                    data={"csrf_token": csrf_of(page.text), "max_uses": "1000", "expires": "7"})
        assert too_many.status_code == 400
    async with instance.sessions() as session:
        invite = await session.scalar(select(Invite).where(Invite.code == code))
    assert invite.max_uses == 3 and invite.created_by_id is not None
    assert dt.timedelta(days=6) < invite.expires_at - utcnow() <= dt.timedelta(days=7)


# --- logging in and out ----------------------------------------------------------------------------


async def test_log_in_and_out(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        assert (await client.get("/settings/profile")).status_code == 303
        response = await log_in(client, "ADA ")
        assert response.status_code == 303 and response.headers["location"] == "/"
        settings_page = await client.get("/settings/profile")
        assert settings_page.status_code == 200 and "@ada@" in settings_page.text
        assert await count(instance, WebSession) == 1

        out = await client.post("/logout", data={"csrf_token": csrf_of(settings_page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login?logged_out=1"
        assert "You've logged out" in said(await client.get(out.headers["location"]))
        assert (await client.get("/settings/profile")).status_code == 303
    assert await count(instance, WebSession) == 0


async def test_the_whole_handle_works_as_a_login_name(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        assert (await log_in(client, f"@Ada@{instance.settings.domain}")).status_code == 303


async def test_the_session_token_is_stored_only_as_a_hash(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        response = await log_in(client, "ada")
        token = response.cookies[auth.session_cookie_name(instance.settings)]
    async with instance.sessions() as session:
        stored = await session.scalar(select(WebSession))
    assert stored.id == auth.hash_token(token) != token
    assert stored.expires_at - utcnow() > dt.timedelta(days=29)


async def test_a_wrong_password_or_unknown_name_gets_the_same_answer(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        wrong = await log_in(client, "ada", "not the password at all")
        unknown = await log_in(client, "nobody_here", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "don't match an account here" in said(response)
        assert 'aria-describedby="password-error"' in response.text
        assert auth.session_cookie_name(instance.settings) not in response.cookies
    assert await count(instance, WebSession) == 0


async def test_repeated_failures_pause_logins_for_that_name(instance):
    await make_user(instance, "ada")
    await make_user(instance, "bea")
    async with instance.client() as client:
        for _ in range(5):
            assert (await log_in(client, "ada", "wrong password!")).status_code == 400
        paused = await log_in(client, "ada")  # even the right password waits now
        assert paused.status_code == 429 and "try again in about 15 minutes" in paused.text
        # Another name from the same place is not affected.
        assert (await log_in(client, "bea")).status_code == 303
    assert await count(instance, WebSession) == 1


def test_the_throttle_forgets_failures_after_the_window():
    throttle = auth.LoginThrottle(limit=5, window=900)
    key = ("192.0.2.1", "ada")
    for second in range(5):
        throttle.failed(key, now=1000.0 + second)
    assert throttle.wait_seconds(key, now=1005.0) == pytest.approx(895.0)
    assert throttle.wait_seconds(key, now=1900.0) == 0.0  # the first failure has left the window
    throttle.succeeded(key)
    assert throttle.wait_seconds(key, now=1005.0) == 0.0


def test_the_throttle_keeps_its_memory_bounded():
    throttle = auth.LoginThrottle(limit=5, window=900, max_keys=100)
    for n in range(1000):
        throttle.failed(("192.0.2.1", f"name{n}"), now=float(n))
    assert len(throttle._failures) <= 100


async def test_an_expired_session_is_ended(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        await log_in(client, "ada")
        async with db.transaction(instance.sessions) as session:
            await session.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        response = await client.get("/settings/profile")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        # The stale cookie is cleared with the redirect.
        assert 'fs_session=""' in response.headers["set-cookie"]
    assert await count(instance, WebSession) == 0


async def test_using_a_session_slides_its_expiry(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        await log_in(client, "ada")
        two_days_ago = utcnow() - dt.timedelta(days=2)
        async with db.transaction(instance.sessions) as session:
            await session.execute(update(WebSession).values(last_seen_at=two_days_ago,
                                                             expires_at=two_days_ago + auth.SESSION_LIFETIME))
        assert (await client.get("/settings/profile")).status_code == 200
    async with instance.sessions() as session:
        stored = await session.scalar(select(WebSession))
    assert stored.expires_at - utcnow() > dt.timedelta(days=29, hours=23)


async def test_login_rotates_the_session(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        first = (await log_in(client, "ada")).cookies[auth.session_cookie_name(instance.settings)]
        second = (await log_in(client, "ada")).cookies[auth.session_cookie_name(instance.settings)]
    assert first != second
    async with instance.sessions() as session:
        ids = list(await session.scalars(select(WebSession.id)))
    assert ids == [auth.hash_token(second)]  # the token the browser had before is gone


async def test_a_planted_session_token_is_never_adopted(instance):
    await make_user(instance, "ada")
    name = auth.session_cookie_name(instance.settings)
    async with instance.client(cookies={name: "planted-by-someone-else"}) as client:
        response = await log_in(client, "ada")
        assert response.cookies[name] != "planted-by-someone-else"
    async with instance.client(cookies={name: "planted-by-someone-else"}) as attacker:
        assert (await attacker.get("/settings/profile")).status_code == 303


# --- cookies and redirects -----------------------------------------------------------------------


async def test_cookies_on_plain_http_are_http_only_and_same_site(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        response = await log_in(client, "ada")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("fs_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Domain" not in cookie


async def test_cookies_on_https_are_secure_with_the_host_prefix(start_instance):
    async with start_instance(insecure_http=False) as instance:
        await make_user(instance, "ada")
        # The instance thinks it is behind https; talk to its plain port directly, as a proxy would.
        async with httpx.AsyncClient(base_url=f"http://{instance.settings.domain}", timeout=10) as client:
            page = await client.get("/login")
            seed_cookie = page.headers["set-cookie"]
            assert seed_cookie.startswith("__Host-fs_csrf=") and "Secure" in seed_cookie and "HttpOnly" in seed_cookie
            seed = seed_cookie.split(";")[0].split("=", 1)[1]
            response = await client.post("/login", headers={"Cookie": f"__Host-fs_csrf={seed}"},
                                         data={"csrf_token": csrf_of(page.text), "username": "ada", "password": PASSWORD})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-fs_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
    "/%0d%0aLocation:%20https://evil.example", "evil.example", "http:/evil.example",
])
async def test_next_never_leads_off_site(instance, target):
    await make_user(instance, "ada")
    async with instance.client() as client:
        page = await client.get("/login", params={"next": target})
        response = await client.post("/login", params={"next": target},
                                     data={"csrf_token": csrf_of(page.text), "username": "ada", "password": PASSWORD,
                                           "next": target})
    assert response.status_code == 303
    location = response.headers["location"]
    # Whatever the browser makes of it, it stays on this site.
    assert urlsplit(urljoin(instance.base_url + "/login", location)).netloc == instance.settings.domain
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target, expected", [
    ("/settings/password", "/settings/password"), ("/c/hope?before=abc", "/c/hope?before=abc"),
    ("//evil.example", "/"), ("/\\evil.example", "/"), ("https://evil.example/x", "/"), ("", "/"),
    ("/ok\r\nSet-Cookie: x=y", "/"), ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
])
def test_safe_next(target, expected):
    assert auth.safe_next(target) == expected


async def test_login_returns_to_the_page_that_asked(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        asked = await client.get("/settings/password")
        assert asked.headers["location"] == "/login?next=/settings/password"
        response = await log_in(client, "ada", next_path="/settings/password")
    assert response.headers["location"] == "/settings/password"


# --- CSRF ----------------------------------------------------------------------------------------


async def _state(instance) -> dict:
    """Everything a forged form could change, to compare before and after."""
    async with instance.sessions() as session:
        ada = await session.scalar(select(Actor).where(Actor.username == "ada"))
        user = await session.scalar(select(User).where(User.actor_id == ada.id))
        return {
            "users": await session.scalar(select(func.count(User.id))),
            "sessions": sorted(await session.scalars(select(WebSession.id))),
            "display_name": ada.display_name, "deleted": ada.deleted_at, "hash": user.password_hash,
            "mode": (await session.get(Site, 1)).registration_mode,
            "invites": await session.scalar(select(func.count(Invite.id))),
            "pending": sorted(await session.scalars(select(User.id).where(User.approved.is_(False)))),
            "outbox": await session.scalar(select(func.count(OutboxActivity.id))),
        }


FORMS = {
    "login": ("/login", {"username": "ada", "password": PASSWORD}),
    "signup": ("/signup", {"username": "newcomer", "password": PASSWORD, "password_again": PASSWORD}),
    "profile": ("/settings/profile", {"display_name": "Forged", "bio": "forged"}),
    "password": ("/settings/password", {"current_password": PASSWORD, "new_password": "forged password 1",
                                        "new_password_again": "forged password 1"}),
    "delete": ("/settings/delete", {"confirm_username": "ada"}),
    "logout": ("/logout", {}),
    "admin mode": ("/admin/registrations/mode", {"mode": "closed"}),
    "admin invite": ("/admin/registrations/invites", {"max_uses": "1", "expires": "7"}),
    "admin approve": ("/admin/registrations/{pending}/approve", {}),
    "admin decline": ("/admin/registrations/{pending}/decline", {}),
}


@pytest.mark.parametrize("form", list(FORMS))
async def test_forms_without_the_right_token_are_refused_and_change_nothing(instance, form):
    await make_user(instance, "ada", admin=True)
    await make_user(instance, "another_admin", admin=True)  # so ada could delete her account
    pending = await make_user(instance, "waiting", approved=False)
    path, data = FORMS[form]
    path = path.format(pending=pending.id)
    async with instance.client() as other:
        # A valid token, but another browser's (another session's, or another anonymous cookie's).
        await log_in(other, "another_admin")
        others_token = csrf_of((await other.get("/settings/profile")).text)
    async with instance.client() as stranger:
        others_anonymous_token = csrf_of((await stranger.get("/login")).text)
    async with instance.client() as client:
        if form not in ("login", "signup"):
            await log_in(client, "ada")
        await client.get("/login")  # this browser has its own anonymous CSRF cookie too
        before = await _state(instance)
        for token in (None, "", "x" * 43, others_token, others_anonymous_token):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            response = await client.post(path, data=sent)
            assert response.status_code == 403, (token, response.text)
            assert "Nothing was changed" in response.text and "Get help now" in response.text
            assert await _state(instance) == before, token


async def test_an_anonymous_token_needs_its_own_cookie(instance):
    await make_user(instance, "ada")
    async with instance.client() as first:
        token = csrf_of((await first.get("/login")).text)
    async with instance.client() as second:
        await second.get("/login")  # gets its own seed cookie
        response = await second.post("/login", data={"csrf_token": token, "username": "ada", "password": PASSWORD})
    assert response.status_code == 403


async def test_a_login_form_opened_before_logging_in_elsewhere_still_works(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        old_page = await client.get("/login")
        await log_in(client, "ada")  # in another tab
        response = await client.post("/login", data={"csrf_token": csrf_of(old_page.text), "username": "ada",
                                                     "password": PASSWORD})
    assert response.status_code == 303


# --- settings --------------------------------------------------------------------------------------


async def test_profile_changes_name_and_bio_as_plain_text(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        await log_in(client, "ada")
        response = await post_form(client, "/settings/profile",
                                   {"display_name": "  Ada   L. ", "bio": "Hello <b>there</b>\r\n\r\nSecond & last"})
        assert response.headers["location"] == "/settings/profile?saved=1"
        page = await client.get("/settings/profile?saved=1")
        assert "Your profile has been saved" in page.text
        assert "Hello &lt;b&gt;there&lt;/b&gt;" in page.text
        assert ">Ada L.</a>" in page.text  # the header greets them by their new name
        actor_doc = (await client.get("/u/ada", headers=AP_JSON)).json()
    assert actor_doc["name"] == "Ada L."
    assert actor_doc["summary"] == "<p>Hello &lt;b&gt;there&lt;/b&gt;</p><p>Second &amp; last</p>"
    async with instance.sessions() as session:
        actor = await session.scalar(select(Actor).where(Actor.username == "ada"))
    assert actor.summary == "Hello <b>there</b>\n\nSecond & last"


async def test_profile_limits_are_explained(instance):
    await make_user(instance, "ada")
    async with instance.client() as client:
        await log_in(client, "ada")
        response = await post_form(client, "/settings/profile", {"display_name": "x" * 101, "bio": "y" * 2001})
    assert response.status_code == 400
    assert 'id="display_name-error"' in response.text and 'id="bio-error"' in response.text


async def test_changing_the_password_needs_the_current_one(instance):
    await make_user(instance, "ada")
    async with instance.client() as elsewhere:
        await log_in(elsewhere, "ada")
        async with instance.client() as client:
            await log_in(client, "ada")
            wrong = await post_form(client, "/settings/password", {
                "current_password": "not my password", "new_password": "a brand new password",
                "new_password_again": "a brand new password"})
            assert wrong.status_code == 400 and "isn't your current password" in said(wrong)
            async with instance.client() as third:
                assert (await log_in(third, "ada")).status_code == 303  # unchanged

            mismatch = await post_form(client, "/settings/password", {
                "current_password": PASSWORD, "new_password": "a brand new password", "new_password_again": "different"})
            assert mismatch.status_code == 400 and 'id="new_password_again-error"' in mismatch.text

            changed = await post_form(client, "/settings/password", {
                "current_password": PASSWORD, "new_password": "a brand new password",
                "new_password_again": "a brand new password"})
            assert changed.headers["location"] == "/settings/password?saved=1"
            assert "Your password has been changed" in (await client.get("/settings/password?saved=1")).text
        # The other browser was logged out by the change.
        assert (await elsewhere.get("/settings/profile")).status_code == 303
    async with instance.client() as client:
        assert (await log_in(client, "ada")).status_code == 400
        assert (await log_in(client, "ada", "a brand new password")).status_code == 303


# --- deleting an account ---------------------------------------------------------------------------


async def add_remote_follower(instance, person_name: str, remote_name: str, shared_inbox: str) -> Actor:
    """A remote person following `person_name`, written straight into the database."""
    async with db.transaction(instance.sessions) as session:
        person = await accounts.local_actor_by_name(session, instance.settings, person_name)
        remote = Actor(ap_id=f"https://remote.example/users/{remote_name}", kind="person", local=False,
                       username=remote_name, domain="remote.example", inbox_url=f"https://remote.example/users/{remote_name}/inbox",
                       shared_inbox_url=shared_inbox)
        session.add(remote)
        await session.flush()
        session.add(Follow(follower_id=remote.id, target_id=person.id, state=ACCEPTED, accepted_at=utcnow(),
                           ap_id=f"https://remote.example/follows/{remote_name}"))
        person.follower_count += 1
        return remote


async def test_deleting_an_account_tells_remote_followers_and_leaves_a_tombstone(start_instance):
    async with start_instance(run_worker_in_serve=False) as instance:
        await make_user(instance, "ada")
        shared = "https://remote.example/inbox"
        await add_remote_follower(instance, "ada", "rem", shared)
        await add_remote_follower(instance, "ada", "rem2", shared)  # same server: one delivery
        async with instance.client() as client:
            await log_in(client, "ada")
            page = await client.get("/settings/delete")
            assert 'for="confirm_username"' in page.text
            wrong = await client.post("/settings/delete", data={"csrf_token": csrf_of(page.text), "confirm_username": "bea"})
            assert wrong.status_code == 400 and "isn't your username" in said(wrong)

            response = await client.post("/settings/delete", data={"csrf_token": csrf_of(page.text), "confirm_username": "Ada"})
            assert response.status_code == 200 and "Your account has been deleted" in response.text
            assert (await client.get("/settings/profile")).status_code == 303
            gone = await client.get("/u/ada", headers=AP_JSON)
        assert gone.status_code == 410
        assert gone.json()["type"] == "Tombstone" and gone.json()["id"] == instance.url("/u/ada")
        async with instance.client() as client:
            assert (await log_in(client, "ada")).status_code == 400

        async with instance.sessions() as session:
            deliveries = list(await session.scalars(select(Delivery)))
            activity = await session.scalar(select(OutboxActivity).where(OutboxActivity.type == "Delete"))
            actor = await session.scalar(select(Actor).where(Actor.username == "ada", Actor.local.is_(True)))
            assert await session.scalar(select(func.count(User.id))) == 0
            assert await session.scalar(select(func.count(WebSession.id))) == 0
            assert await session.scalar(select(func.count(Follow.id))) == 0
    assert [d.inbox_url for d in deliveries] == [shared]
    assert deliveries[0].activity_id == activity.id and deliveries[0].state == "queued"
    doc = json.loads(activity.body)
    assert doc["type"] == "Delete" and doc["actor"] == doc["object"] == actor.ap_id
    assert doc["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert actor.deleted_at is not None and actor.display_name == "" and actor.summary == ""
    assert actor.private_key_pem  # still needed to sign the Delete
    assert actor.follower_count == 0


async def test_the_only_admin_cannot_delete_their_account(instance):
    await make_user(instance, "ada", admin=True)
    async with instance.client() as client:
        await log_in(client, "ada")
        response = await post_form(client, "/settings/delete", {"confirm_username": "ada"})
    assert response.status_code == 409 and "only admin" in response.text
    assert (await user_named(instance, "ada")) is not None


async def test_a_suspended_account_cannot_log_in_and_its_sessions_end(instance):
    user = await make_user(instance, "ada")
    async with instance.client() as client:
        assert (await log_in(client, "ada")).status_code == 303
        assert (await client.get("/settings/profile")).status_code == 200
        async with db.transaction(instance.sessions) as session:
            (await session.get(Actor, user.actor_id)).suspended = True
        # The open session no longer counts...
        assert (await client.get("/settings/profile")).status_code == 303
    async with instance.client() as client:
        # ...and logging in again says why, kindly, once the password is right.
        refused = await log_in(client, "ada")
        assert refused.status_code == 403 and "This account is suspended" in refused.text
        assert auth.session_cookie_name(instance.settings) not in refused.cookies


async def test_a_profile_change_is_sent_to_remote_followers_as_an_update(instance):
    await make_user(instance, "ada")
    await add_remote_follower(instance, "ada", "rem", "https://remote.example/inbox")
    async with instance.client() as client:
        await log_in(client, "ada")
        await post_form(client, "/settings/profile", {"display_name": "Ada L.", "bio": "Listening."})
        await post_form(client, "/settings/profile", {"display_name": "Ada L.", "bio": "Listening."})  # no change
    async with instance.sessions() as session:
        updates = list(await session.scalars(select(OutboxActivity).where(OutboxActivity.type == "Update")))
        deliveries = list(await session.scalars(select(Delivery).where(Delivery.activity_id == updates[0].id)))
    assert len(updates) == 1
    body = json.loads(updates[0].body)
    assert body["object"]["type"] == "Person" and body["object"]["name"] == "Ada L."
    assert [d.inbox_url for d in deliveries] == ["https://remote.example/inbox"]


async def test_a_person_can_download_everything_held_about_them(instance):
    from fedisupport.domain import actions

    user = await make_user(instance, "ada")
    async with db.transaction(instance.sessions) as session:
        me = await session.get(Actor, user.actor_id)
        hope = await accounts.create_community(session, instance.settings, "hope", "Hope")
        thread = await actions.write_thread(session, instance.settings, me, hope, title="Mine", body="My **words**")
        await actions.like(session, instance.settings, me, thread)
    async with instance.client() as client:
        await log_in(client, "ada")
        page = await client.get("/settings/export")
        assert page.status_code == 200 and "Download my data" in page.text
        forged = await client.post("/settings/export", data={"csrf_token": "nope"})
        assert forged.status_code == 403
        response = await client.post("/settings/export", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="fedisupport-ada.json"'
    data = response.json()
    assert data["account"]["username"] == "ada"
    assert [(p["title"], p["text"], p["thread"]) for p in data["posts"]] == [("Mine", "My **words**", thread.ap_id)]
    assert data["likes"] == [{"post": thread.ap_id, "at": data["likes"][0]["at"]}]
