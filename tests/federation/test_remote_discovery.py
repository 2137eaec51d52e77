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
