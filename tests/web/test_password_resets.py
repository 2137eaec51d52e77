"""Locked out: an admin makes a one-time link; it sets a new password once, and ends every session."""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re

from sqlalchemy import select, update

from fedisupport import db
from fedisupport.models import WebSession, utcnow
from fedisupport.models.auth import PasswordReset
from tests.web.test_accounts import PASSWORD, admin_client, csrf_of, log_in, make_user, post_form, user_named

NEW_PASSWORD = "a brand new long password"
LINK = re.compile(r'<code class="reset-link">([^<]+)</code>')


async def make_link(admin, name: str) -> str:
    page = await post_form(admin, "/admin/reset-link", {"username": name})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    return html.unescape(LINK.search(page.text).group(1))


async def test_a_link_lets_someone_choose_a_new_password_once_and_signs_out_everywhere_else(instance):
    await make_user(instance, "sol")
    async with instance.client() as elsewhere:
        assert (await log_in(elsewhere, "sol")).status_code == 303  # a session the link must end
        async with admin_client(instance) as admin:
            link = await make_link(admin, "@Sol")
        token = link.rsplit("/", 1)[1]
        async with instance.sessions() as session:
            stored = list(await session.scalars(select(PasswordReset.token_hash)))
        assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # only the hash is kept

        async with instance.client() as browser:
            form = await browser.get(link)
            assert form.status_code == 200 and "Choose a new password" in form.text
            short = await browser.post(link, data={"csrf_token": csrf_of(form.text), "new_password": "short",
                                                   "new_password_again": "short"})
            assert short.status_code == 400  # a mistake keeps the link good
            done = await browser.post(link, data={"csrf_token": csrf_of(form.text), "new_password": NEW_PASSWORD,
                                                  "new_password_again": NEW_PASSWORD})
            assert done.status_code == 303 and done.headers["location"] == "/settings/password?saved=1"
            assert (await browser.get("/settings/password?saved=1")).status_code == 200  # signed in here
            again = await browser.get(link)
            assert again.status_code == 404 and "no longer works" in html.unescape(again.text)

        assert (await elsewhere.get("/settings/profile")).status_code == 303  # that session ended
    async with instance.client() as fresh:
        assert (await log_in(fresh, "sol", NEW_PASSWORD)).status_code == 303
    async with instance.client() as fresh:
        assert (await log_in(fresh, "sol", PASSWORD)).status_code != 303


async def test_links_expire_and_a_new_link_replaces_the_old_one(instance):
    await make_user(instance, "sol")
    async with admin_client(instance) as admin:
        first = await make_link(admin, "sol")
        second = await make_link(admin, "sol")
        unknown = await post_form(admin, "/admin/reset-link", {"username": "nobody"})
    assert unknown.status_code == 400 and "no account named nobody" in html.unescape(unknown.text)
    async with instance.client() as browser:
        assert (await browser.get(first)).status_code == 404
        assert (await browser.get(second)).status_code == 200
        async with db.transaction(instance.sessions) as session:
            await session.execute(update(PasswordReset).values(expires_at=utcnow() - dt.timedelta(minutes=1)))
        assert (await browser.get(second)).status_code == 404
        assert (await browser.get(instance.base_url + "/reset/" + "x" * 300)).status_code == 404


async def test_only_admins_make_links_and_the_login_page_says_how_to_get_one(instance):
    await make_user(instance, "sol")
    async with instance.client() as client:
        login = await client.get("/login")
        assert "Forgot your password? Ask an admin" in html.unescape(login.text)
        assert (await log_in(client, "sol")).status_code == 303
        assert (await client.get("/admin/reset-link")).status_code == 403
    async with instance.sessions() as session:
        assert await session.scalar(select(PasswordReset.token_hash)) is None
        assert await session.scalar(select(WebSession.id)) is not None
    assert (await user_named(instance, "sol")) is not None
