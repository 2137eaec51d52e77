"""Finding a community on another instance by its handle, and joining it from here."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import following
from fedisupport.models import Actor, Community
from fedisupport.remote.webfinger import NotFound, resolve_handle
from tests.federation.test_follow import follow_state, make_community, make_person
from tests.support.waiting import wait_for


async def test_a_handle_resolves_to_the_community_and_joining_remembers_it(start_instance):
    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope")
        bob = await make_person(b, "bob")
        async with db.transaction(b.sessions) as session:
            group = await resolve_handle(b.services, session, f"@HOPE@{a.settings.domain}")
            assert group.ap_id == a.url("/c/hope") and group.kind == "group" and not group.local
            await following.follow(session, b.settings, await session.get(Actor, bob.id), group)
        b.services.work_available.set()

        async def accepted():
            return await follow_state(b, bob.ap_id, a.url("/c/hope")) == "accepted"
        await wait_for(accepted)
        async with b.sessions() as session:
            remote = await session.scalar(select(Community).where(Community.name == f"hope@{a.settings.domain}"))
        assert remote is not None and not remote.local


@pytest.mark.parametrize("handle", ["hope", "@nobody@{domain}", "@x@y@z"])
async def test_unknown_or_malformed_handles_say_so(start_instance, handle):
    async with start_instance() as a:
        async with db.transaction(a.sessions) as session:
            with pytest.raises(NotFound):
                await resolve_handle(a.services, session, handle.format(domain=a.settings.domain))


async def test_a_person_finds_joins_and_reads_a_remote_community_from_the_web(start_instance):
    from tests.federation.test_threads import _is, act, software_known
    from tests.web.test_accounts import csrf_of, log_in, make_user
    from fedisupport.domain import actions
    from fedisupport.models import Post

    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        await make_user(b, "bob")
        handle = f"hope@{a.settings.domain}"
        async with b.client() as client:
            assert (await log_in(client, "bob")).status_code == 303
            missing = await client.get("/find", params={"q": f"@nobody@{a.settings.domain}"})
            assert missing.status_code == 404 and "find that:" in missing.text
            found = await client.get("/find", params={"q": "@" + handle})
            assert found.status_code == 303 and found.headers["location"] == f"/c/{handle}"
            page = await client.get(found.headers["location"])
            assert page.status_code == 200 and "A community on another server" in page.text
            joined = await client.post(f"/c/{handle}/join", data={"csrf_token": csrf_of(page.text)})
            assert joined.status_code == 303

            bob_ap_id = b.url("/u/bob")
            await wait_for(lambda: _is(follow_state(a, bob_ap_id, a.url("/c/hope")), "accepted"))
            await wait_for(lambda: _is(software_known(a, b.settings.domain), "fedisupport"))

            async def start(session):
                community = await session.scalar(select(Community).where(Community.name == "hope"))
                return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                                  title="Hello from A", body="Welcome, everyone.")
            thread = await act(a, start)

            async def listed():
                text = (await client.get(f"/c/{handle}")).text
                return "Hello from A" in text
            await wait_for(listed)
            home = await client.get("/")
            assert "From other servers" in home.text and f"@{handle}" in home.text
            async with b.sessions() as session:
                copy = await session.scalar(select(Post).where(Post.ap_id == thread.ap_id))
            opened = await client.get(f"/p/{copy.id}")
            assert opened.status_code == 200 and "Welcome, everyone." in opened.text
