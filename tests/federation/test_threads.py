"""Threads and replies across three real instances: A hosts the community, B and C follow it."""
from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from fedisupport import db
from fedisupport.activitypub.jsonld import AS_PUBLIC, CONTEXT
from fedisupport.activitypub.signatures import sign_request
from fedisupport.domain import actions
from fedisupport.models import Actor, Community, Instance, Post
from fedisupport.remote.actors import get_actor
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.support.waiting import wait_for


async def find_post(inst, ap_id: str) -> Post | None:
    async with inst.sessions() as session:
        return await session.scalar(select(Post).where(Post.ap_id == ap_id))


def post_with(inst, ap_id: str, check=lambda post: True):
    async def probe():
        post = await find_post(inst, ap_id)
        return post if post is not None and check(post) else None
    return probe


async def software_known(inst, host: str):
    async with inst.sessions() as session:
        return await session.scalar(select(Instance.software).where(Instance.host == host))


async def act(inst, work):
    async with db.transaction(inst.sessions) as session:
        result = await work(session)
    inst.services.work_available.set()
    return result


async def test_a_thread_and_its_replies_travel_between_three_instances(start_instance):
    async with start_instance() as a, start_instance() as b, start_instance() as c:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        bob = await make_person(b, "bob")
        carol = await make_person(c, "carol")
        hope_url = a.url("/c/hope")
        await follow_remote(b, bob, hope_url)
        await follow_remote(c, carol, hope_url)
        for inst, person in ((a, bob), (a, carol)):
            await wait_for(lambda: _is(follow_state(inst, person.ap_id, hope_url), "accepted"))
        # A learns from NodeInfo that B and C run forum software, so they get every reply.
        for host in (b.settings.domain, c.settings.domain):
            await wait_for(lambda: _is(software_known(a, host), "fedisupport"))

        async def start(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="Struggling today?", body="Reply here, we'll listen.")
        thread = await act(a, start)
        on_b = await wait_for(post_with(b, thread.ap_id))
        on_c = await wait_for(post_with(c, thread.ap_id))
        assert on_b.is_thread and on_b.title == "Struggling today?"
        assert "we&#39;ll listen" in on_b.content_html or "we'll listen" in on_b.content_html
        assert on_c.community_id is not None

        # Bob replies from B; A takes it into the thread and announces it to C.
        async def bob_replies(session):
            parent = await session.get(Post, on_b.id)
            return await actions.write_reply(session, b.settings, await session.get(Actor, bob.id), parent,
                                             body="I'm here too. Today was heavy.")
        reply = await act(b, bob_replies)
        on_a = await wait_for(post_with(a, reply.ap_id))
        assert on_a.thread_id == thread.id and on_a.parent_id == thread.id
        await wait_for(post_with(a, thread.ap_id, lambda p: p.thread_reply_count == 1))
        reply_on_c = await wait_for(post_with(c, reply.ap_id))
        assert reply_on_c.thread_id == on_c.id

        # Bob edits; the edit reaches C through A.
        async def bob_edits(session):
            post = await session.get(Post, reply.id)
            return await actions.edit(session, b.settings, await session.get(Actor, bob.id), post,
                                      body="I'm here too. Today was heavy, but I'm still here.")
        await act(b, bob_edits)
        await wait_for(post_with(c, reply.ap_id, lambda p: "still here" in p.content_html))

        # Carol answers Bob from C the way Mastodon does: addressed only to Bob, no community.
        note_id = c.url("/p/9000001")
        await _post_as(c, carol, a.url("/inbox"), {
            "@context": CONTEXT, "id": note_id + "/activity", "type": "Create", "actor": carol.ap_id,
            "to": [bob.ap_id], "cc": [AS_PUBLIC],
            "object": {"id": note_id, "type": "Note", "attributedTo": carol.ap_id, "inReplyTo": reply.ap_id,
                       "content": "<p>Sending you strength, Bob.</p>", "to": [bob.ap_id], "cc": [AS_PUBLIC],
                       "published": "2026-11-26T10:00:00Z"},
        })
        carol_reply = await wait_for(post_with(a, note_id))
        assert carol_reply.thread_id == thread.id and carol_reply.parent_id == on_a.id

        # Bob deletes his reply; A removes it and C follows once B no longer serves it.
        async def bob_deletes(session):
            post = await session.get(Post, reply.id)
            await actions.delete(session, b.settings, await session.get(Actor, bob.id), post)
        await act(b, bob_deletes)
        await wait_for(post_with(a, reply.ap_id, lambda p: p.state == "deleted"))
        await wait_for(post_with(c, reply.ap_id, lambda p: p.state == "deleted"))
        async with b.client() as client:
            gone = await client.get(f"/p/{reply.id}", headers={"Accept": "application/activity+json"})
        assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"

        # Likes from anywhere count.
        async def carol_likes(session):
            post = await session.scalar(select(Post).where(Post.ap_id == thread.ap_id))
            return await actions.like(session, c.settings, await session.get(Actor, carol.id), post)
        assert await act(c, carol_likes)
        await wait_for(post_with(a, thread.ap_id, lambda p: p.like_count == 1))


async def test_replies_and_context_collections_page_through_a_thread(start_instance):
    async with start_instance(page_size=5) as a:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")

        async def seed(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            me = await session.get(Actor, alice.id)
            thread = await actions.write_thread(session, a.settings, me, community, title="T", body="Start")
            for n in range(12):
                await actions.write_reply(session, a.settings, me, thread, body=f"reply {n}")
            return thread
        thread = await act(a, seed)
        headers = {"Accept": "application/activity+json"}
        async with a.client() as client:
            note = (await client.get(f"/p/{thread.id}", headers=headers)).json()
            assert note["type"] == "Note" and note["name"] == "T" and note["context"] == thread.ap_id + "/context"
            page = note["replies"]["first"]
            seen = list(page["orderedItems"])
            while "next" in page:
                page = (await client.get(page["next"], headers=headers)).json()
                seen.extend(page["orderedItems"])
            assert len(seen) == 12 == note["replies"]["totalItems"] and len(set(seen)) == 12
            context = (await client.get(note["context"], headers=headers)).json()
            assert context["totalItems"] == 13
            page = (await client.get(context["first"], headers=headers)).json()
            items = list(page["orderedItems"])
            while "next" in page:
                page = (await client.get(page["next"], headers=headers)).json()
                items.extend(page["orderedItems"])
            assert items[0] == thread.ap_id and len(items) == 13 and set(seen) < set(items)
            html = await client.get(f"/p/{thread.id}", headers={"Accept": "text/html"})
            assert html.headers["content-type"].startswith("text/html")


async def _post_as(inst, person: Actor, inbox: str, activity: dict) -> None:
    async with inst.sessions() as session:
        actor = await session.get(Actor, person.id)
    body = json.dumps(activity).encode()
    headers = sign_request("POST", inbox, {"Content-Type": "application/activity+json"}, body,
                           actor.key_id, actor.private_key_pem)
    async with httpx.AsyncClient() as client:
        response = await client.post(inbox, content=body, headers=headers)
    assert response.status_code == 202, response.text


async def _is(awaitable, expected):
    return (await awaitable) == expected
