"""Inbox POSTs take a short way to their handler (web/inbox_door.py) and lose no check on it.

Real instance, real HTTP, a FakeRemote signing with its own keys.
"""
from __future__ import annotations

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts
from fedisupport.models import Community, InboxItem
from tests.support.remote import FakeRemote, signed_post


async def _community_actor_id(inst, name: str) -> int:
    async with db.transaction(inst.sessions) as session:
        await accounts.create_community(session, inst.settings, name, name.title())
    async with inst.sessions() as session:
        return (await session.execute(select(Community.actor_id).where(Community.name == name))).scalar_one()


async def _stored(inst) -> dict[str, int | None]:
    async with inst.sessions() as session:
        return dict((await session.execute(select(InboxItem.ap_id, InboxItem.recipient_id))).all())


async def test_inbox_posts_are_checked_stored_and_answered_as_before(start_instance):
    async with start_instance(run_worker_in_serve=False) as inst, FakeRemote() as remote:
        group_id = await _community_actor_id(inst, "hope")
        remote.add_actor("alice")
        to_shared = remote.activity("alice", "Follow", inst.url("/actor"))
        to_group = remote.activity("alice", "Follow", inst.url("/c/hope"))

        accepted = await signed_post(remote, "alice", inst.url("/inbox"), to_shared)
        assert accepted.status_code == 202, accepted.text
        # The headers every response carries, on the inbox too; no language Vary (nothing to translate).
        assert "default-src 'self'" in accepted.headers["content-security-policy"]
        assert accepted.headers["x-content-type-options"] == "nosniff"
        assert "vary" not in accepted.headers
        assert (await signed_post(remote, "alice", inst.url("/c/hope/inbox"), to_group)).status_code == 202

        # The community's inbox names its recipient; the shared inbox none.
        assert await _stored(inst) == {to_shared["id"]: None, to_group["id"]: group_id}

        # Every refusal still happens: unsigned, a broken signature, an inbox that is not there.
        unsigned = await signed_post(remote, "alice", inst.url("/inbox"), remote.activity("alice", "Like", "x"),
                                     sign=False)
        assert unsigned.status_code == 401 and unsigned.json()["error"]
        tampered = await signed_post(remote, "alice", inst.url("/c/hope/inbox"),
                                     remote.activity("alice", "Follow", inst.url("/c/hope")),
                                     tamper=lambda body: body.replace(b"Follow", b"Flag"))
        assert tampered.status_code == 401
        missing = await signed_post(remote, "alice", inst.url("/c/nobody/inbox"),
                                    remote.activity("alice", "Follow", inst.url("/c/nobody")))
        assert missing.status_code == 404
        assert len(await _stored(inst)) == 2
        # A refusal is not remembered: the community made a moment later takes activities at once.
        later_id = await _community_actor_id(inst, "nobody")
        to_later = remote.activity("alice", "Follow", inst.url("/c/nobody"))
        assert (await signed_post(remote, "alice", inst.url("/c/nobody/inbox"), to_later)).status_code == 202
        assert (await _stored(inst))[to_later["id"]] == later_id
        # The name is matched as the route matched it before: case-insensitive, people are not groups.
        assert (await signed_post(remote, "alice", inst.url("/c/Hope/inbox"),
                                  remote.activity("alice", "Like", inst.url("/c/hope")))).status_code == 202
        assert (await signed_post(remote, "alice", inst.url("/u/hope/inbox"),
                                  remote.activity("alice", "Like", inst.url("/c/hope")))).status_code == 404

        async with inst.client() as client:
            # Not a POST, or not exactly an inbox path: the normal routes answer, as before.
            assert (await client.get("/inbox")).status_code == 405
            assert (await client.post("/c/hope/extra/inbox", content=b"{}")).status_code == 404
            page = await client.get("/c/hope")
            assert page.status_code == 200 and "Accept-Language" in page.headers["vary"]
