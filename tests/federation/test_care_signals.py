"""A remote reply with a crisis phrase: an urgent welfare report on the receiving instance only; the
reply is published as usual and no Flag goes anywhere."""
from __future__ import annotations

from sqlalchemy import select

from fedisupport import care, db
from fedisupport.domain import actions
from fedisupport.models import Actor, Community, OutboxActivity, Post, Report
from tests.federation.test_follow import follow_remote, follow_state, make_community, make_person
from tests.federation.test_threads import _is, act, post_with, software_known
from tests.support.waiting import wait_for


async def test_a_remote_reply_with_a_crisis_phrase_files_an_urgent_report_and_is_published(start_instance):
    async with start_instance() as a, start_instance() as b:
        async with db.transaction(a.sessions) as session:
            await care.seed_all(session)
        await make_community(a, "hope")
        alice = await make_person(a, "alice")
        bob = await make_person(b, "bob")
        hope_url = a.url("/c/hope")
        await follow_remote(b, bob, hope_url)
        await wait_for(lambda: _is(follow_state(a, bob.ap_id, hope_url), "accepted"))
        await wait_for(lambda: _is(software_known(a, b.settings.domain), "fedisupport"))

        async def start(session):
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            return await actions.write_thread(session, a.settings, await session.get(Actor, alice.id), community,
                                              title="How are you tonight?", body="Tell us, we'll listen.")
        thread = await act(a, start)
        on_b = await wait_for(post_with(b, thread.ap_id))

        async def bob_replies(session):
            parent = await session.get(Post, on_b.id)
            return await actions.write_reply(session, b.settings, await session.get(Actor, bob.id), parent,
                                             body="Sinceramente ya no quiero vivir.")
        reply = await act(b, bob_replies)
        on_a = await wait_for(post_with(a, reply.ap_id))
        assert on_a.state == "published" and on_a.thread_id == thread.id

        async with a.sessions() as session:
            report = await session.scalar(select(Report).where(Report.post_id == on_a.id))
            community = await session.scalar(select(Community).where(Community.name == "hope"))
            flags = list(await session.scalars(select(OutboxActivity).where(OutboxActivity.type == "Flag")))
        assert report is not None and report.category == "welfare" and report.urgent and report.state == "open"
        assert report.reporter_id is None and report.reason == "crisis signal: ya no quiero vivir"
        assert report.community_id == community.id and report.forwarded_at is None
        assert flags == []
        # B had no phrase list seeded and its own copy is untouched; nothing was reported there either.
        async with b.sessions() as session:
            assert await session.scalar(select(Report.id)) is None
        # The reply shows on A's thread page like any other.
        async with a.client() as client:
            page = (await client.get(f"/p/{thread.id}")).text
        assert "ya no quiero vivir" in page
