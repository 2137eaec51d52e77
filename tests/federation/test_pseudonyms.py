"""A pseudonymous reply between two real instances: B sees the pseudonym, and nothing of the person.

A hosts `hope` (pseudonyms allowed); bob on B has joined it. rowan on A answers under his
pseudonym: once in the thread (it reaches B in the community's Announce) and once to bob's own
reply (a Create from the pseudonym straight to bob's inbox, signed with the pseudonym's key).
Afterwards nothing stored on B, in any table, names rowan.
"""
from __future__ import annotations

import json

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import actions, following, pseudonyms
from fedisupport.models import Actor, Base, Community, InboxItem, Post
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import act, post_with, software_known
from tests.support.waiting import wait_for

REAL_DISPLAY = "Rowan Realperson"


async def test_a_pseudonymous_reply_arrives_attributed_to_the_pseudonym_only(start_instance):
    async with start_instance() as a, start_instance() as b:
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        rowan = await make_person(a, "rowan_realname")
        bob = await make_person(b, "bob")
        async with db.transaction(a.sessions) as session:
            hope = await session.scalar(select(Community).where(Community.name == "hope"))
            hope.allow_pseudonyms = True
            me = await session.get(Actor, rowan.id)
            me.display_name = REAL_DISPLAY
            await following.follow(session, a.settings, me, await session.get(Actor, hope.actor_id))
        await follow_remote(b, bob, a.url("/c/hope"))

        async def joined():
            return await follow_state(b, bob.ap_id, a.url("/c/hope")) == "accepted"
        await wait_for(joined)

        async def forum_known():  # so A sends B replies too, not only new threads
            return await software_known(a, b.settings.domain) == "fedisupport"
        await wait_for(forum_known)

        async def start(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="Anyone awake?", body="Long night here.")
        thread = await act(a, start)
        on_b = await wait_for(post_with(b, thread.ap_id))

        async def bob_replies(session):
            return await actions.write_reply(session, b.settings, await session.get(Actor, bob.id),
                                             await session.get(Post, on_b.id), body="I'm up too.")
        bobs = await act(b, bob_replies)
        await wait_for(post_with(a, bobs.ap_id))

        async def as_pseudonym(parent_ap_id: str, body: str):
            keys = await pseudonyms.keys_if_new(a.sessions, rowan, community_name="hope")

            async def work(session):
                parent = await session.scalar(select(Post).where(Post.ap_id == parent_ap_id))
                writer = await pseudonyms.writer_for_reply(session, a.settings, await session.get(Actor, rowan.id),
                                                           parent, display_name="Lantern Keeper", keys=keys)
                return await actions.write_reply(session, a.settings, writer, parent, body=body)
            return await act(a, work)

        in_thread = await as_pseudonym(thread.ap_id, "Me too. It helps to know I'm not alone.")
        # Waiting here keeps B from storing the new actor twice at once: its worker (for the Announce)
        # and its inbox (checking the direct Create's key) can race in remote.actors.store_actor,
        # and the loser answers 500. That race is not about pseudonyms.
        arrived = await wait_for(post_with(b, in_thread.ap_id))
        to_bob = await as_pseudonym(bobs.ap_id, "Thank you for saying so, bob.")
        async with a.sessions() as session:
            worn = await session.get(Actor, in_thread.author_id)
        assert to_bob.author_id == worn.id and worn.id != rowan.id
        direct = await wait_for(post_with(b, to_bob.ap_id))
        async with b.sessions() as session:
            for post in (arrived, direct):
                author = await session.get(Actor, post.author_id)
                assert author.ap_id == worn.ap_id and author.username == worn.username
                assert author.display_name == "Lantern Keeper" and author.kind == "person"
            assert direct.parent_id == bobs.id  # bob's server threads it under bob's reply

        # The Create to bob came from the pseudonym itself: B stores an activity only once its signature
        # verified, here against the pseudonym's own key (fetched from A).
        async def direct_create():
            async with b.sessions() as session:
                item = await session.scalar(select(InboxItem).where(InboxItem.type == "Create",
                                                                    InboxItem.actor_ap_id == worn.ap_id))
            return item if item is not None and item.state != "queued" else None
        create = await wait_for(direct_create)
        assert create.state in ("done", "ignored"), create.error  # ignored: the Announce brought it first
        assert json.loads(create.body)["object"]["attributedTo"] == worn.ap_id
        async with b.sessions() as session:
            # Nothing B keeps, in any table, names the person behind it.
            for table in Base.metadata.sorted_tables:
                for row in (await session.execute(select(table))).all():
                    text = " ".join(str(value) for value in row)
                    for trace in ("rowan_realname", REAL_DISPLAY, rowan.ap_id):
                        assert trace not in text, (table.name, text[:300])
        # And B's view of the actor, fetched from A, is an ordinary Person's.
        doc = await b.services.client.get_json(worn.ap_id)
        assert doc["type"] == "Person" and doc["preferredUsername"] == worn.username
        assert "rowan" not in json.dumps(doc)
