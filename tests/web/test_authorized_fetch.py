"""Authorized fetch: posts and collections only for signed GETs; actors and discovery stay public."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fedisupport.activitypub.fetch import FetchFailed
from fedisupport.domain import actions
from fedisupport.models import Actor, Community
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import act
from tests.support.waiting import wait_for

AP = {"Accept": "application/activity+json"}


async def test_signed_gets_are_served_and_unsigned_ones_refused(start_instance):
    async with start_instance(authorized_fetch=True) as a, start_instance() as b:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        async def seed(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="T", body="Body")
        thread = await act(a, seed)
        protected = [thread.ap_id, thread.ap_id + "/replies", thread.ap_id + "/context", a.url("/c/hope/outbox"),
                     a.url("/c/hope/followers"), a.url("/c/hope/moderators")]
        async with a.client() as client:
            for url in protected:
                response = await client.get(url, headers=AP)
                assert response.status_code == 401, url
                assert "requires signed requests" in response.json()["error"]
            for path in ("/c/hope", "/u/alice", "/actor", f"/.well-known/webfinger?resource=acct:hope@{a.settings.domain}",
                         "/.well-known/nodeinfo"):
                assert (await client.get(path, headers=AP)).status_code == 200, path

        signer = await b.services.instance_signer()
        for url in protected:
            document = await b.services.client.get_json(url, signer=signer)
            assert document["id"] == url
        with pytest.raises(FetchFailed) as refused:
            await b.services.client.get_json(thread.ap_id)
        assert refused.value.status == 401


async def test_two_instances_in_secure_mode_still_federate(start_instance):
    async with start_instance(authorized_fetch=True) as a, start_instance(authorized_fetch=True) as b:
        await make_community(a, "hope")
        bob = await make_person(b, "bob")
        await follow_remote(b, bob, a.url("/c/hope"))

        async def accepted():
            return await follow_state(b, bob.ap_id, a.url("/c/hope")) == "accepted"
        await wait_for(accepted)
