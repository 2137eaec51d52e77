"""The checkpoints where the policy is called: what people here write, and what we send.

A held post is stored, queued for moderators, left out of the counts and sent nowhere; a
rejected one is never written and the writer is told why; a label joins the content warning.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fedisupport.domain import actions, domain_blocks, site_policy
from fedisupport.domain.domain_blocks import PolicyValues
from fedisupport.domain.errors import DomainError
from fedisupport.domain.site_policy import KeywordValues
from fedisupport.models import Community, Delivery, Follow, HeldItem, OutboxActivity, Post
from fedisupport.outbox import distribute
from fedisupport.outbox.publish import activity, publish
from tests.policy.conftest import community, local_person, remote_person, set_limits


async def count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


async def with_remote_follower(session, settings, group: Community, host: str = "forum.test"):
    follower = await remote_person(session, host)
    session.add(Follow(follower_id=follower.id, target_id=group.actor_id, state="accepted"))
    await session.flush()
    return follower


async def test_a_held_thread_waits_unseen_and_unsent(world):
    async def run(session):
        await set_limits(session, new_account_held_posts=1)
        group = await community(session, world.settings)
        await with_remote_follower(session, world.settings, group)
        person = await local_person(session, world.settings)
        post = await actions.write_thread(session, world.settings, person, group, title="First time here",
                                          body="I don't know where to start.")
        held = await session.scalar(select(HeldItem).where(HeldItem.post_id == post.id))
        row = await session.get(Community, group.id)
        return post, held, row, await count(session, OutboxActivity), await count(session, Delivery)
    post, held, group, activities, deliveries = await world(run)
    assert post.state == "held"
    assert held.kind == "post" and held.community_id == group.id and held.inbox_item_id is None
    assert "new account" in held.reason
    assert group.thread_count == 0
    assert (activities, deliveries) == (0, 0)


async def test_a_held_reply_is_not_counted_nor_sent(world):
    async def run(session):
        group = await community(session, world.settings)
        await with_remote_follower(session, world.settings, group)
        starter = await local_person(session, world.settings, admin=True)
        thread = await actions.write_thread(session, world.settings, starter, group, title="Check-in", body="Hi")
        sent = await count(session, OutboxActivity)
        await site_policy.save_keyword_rule(session, KeywordValues("overdose"))
        reply = await actions.write_reply(session, world.settings, await local_person(session, world.settings),
                                          thread, body="I took an overdose once")
        return thread, reply, sent, await count(session, OutboxActivity)
    thread, reply, before, after = await world(run)
    assert reply.state == "held" and before == after
    assert thread.reply_count == 0 and thread.thread_reply_count == 0


async def test_a_rejected_post_is_not_written_and_says_why(world):
    async def run(session):
        group = await community(session, world.settings)
        await site_policy.save_keyword_rule(session, KeywordValues("buy followers", action="reject"))
        person = await local_person(session, world.settings)
        with pytest.raises(DomainError, match="“buy followers” isn't accepted"):
            await actions.write_thread(session, world.settings, person, group, title=None, body="Buy followers!")
        return await count(session, Post), await count(session, OutboxActivity)
    assert await world(run) == (0, 0)


async def test_a_label_becomes_the_content_warning_and_the_post_goes_out(world):
    async def run(session):
        group = await community(session, world.settings)
        await with_remote_follower(session, world.settings, group)
        await site_policy.save_keyword_rule(session, KeywordValues("self-harm", action="warn",
                                                                   warning="mentions self-harm"))
        person = await local_person(session, world.settings)
        post = await actions.write_thread(session, world.settings, person, group, title="Scars",
                                          body="About self-harm, and healing.", content_warning="a hard topic")
        return post, await count(session, OutboxActivity)
    post, sent = await world(run)
    assert post.state == "published" and post.content_warning == "a hard topic; mentions self-harm" and post.sensitive
    assert sent >= 1


async def test_an_edit_meets_the_keyword_rules_again(world):
    async def run(session):
        group = await community(session, world.settings)
        person = await local_person(session, world.settings)
        post = await actions.write_thread(session, world.settings, person, group, title="T", body="harmless")
        await site_policy.save_keyword_rule(session, KeywordValues("spamword", action="reject"))
        await site_policy.save_keyword_rule(session, KeywordValues("overdose", action="hold"))
        with pytest.raises(DomainError, match="spamword"):
            await actions.edit(session, world.settings, person, post, body="now with spamword", title="T")
        sent = await count(session, OutboxActivity)
        await actions.edit(session, world.settings, person, post, body="an overdose", title="T")
        return post, sent, await count(session, OutboxActivity), await count(session, HeldItem)
    post, before, after, held = await world(run)
    assert post.state == "held" and held == 1
    assert before == after  # the edit of a held post is not sent anywhere


async def test_slow_mode_and_the_hourly_limit_stop_a_reply_kindly(world):
    async def run(session):
        await set_limits(session, posts_per_hour=2)
        group = await community(session, world.settings)
        person = await local_person(session, world.settings)
        thread = await actions.write_thread(session, world.settings, person, group, title="T", body="one")
        await actions.write_reply(session, world.settings, person, thread, body="two")
        with pytest.raises(DomainError, match="You can post again in"):
            await actions.write_reply(session, world.settings, person, thread, body="three")
    await world(run)


async def test_deliveries_skip_suspended_domains(world):
    async def run(session):
        await domain_blocks.save_policy(session, PolicyValues("bad.test", "suspend"), new=True)
        person = await local_person(session, world.settings)
        doc = activity(world.settings, "Create", person, {"id": "x"})
        await publish(session, world.settings, person, doc, ["https://bad.test/inbox", "https://social.bad.test/inbox",
                                                             "https://ok.test/inbox", "https://bad.test.ok/inbox"])
        return sorted(await session.scalars(select(Delivery.host)))
    assert await world(run) == ["bad.test.ok", "ok.test"]


async def test_a_community_never_amplifies_a_limited_domain(world):
    async def run(session):
        group = await community(session, world.settings)
        await with_remote_follower(session, world.settings, group)
        await domain_blocks.save_policy(session, PolicyValues("loud.test", "limit"), new=True)
        from fedisupport.models import Actor
        actor = await session.get(Actor, group.actor_id)
        await distribute.announce(session, world.settings, actor, {"type": "Create", "actor": "https://loud.test/u/a",
                                                                  "id": "https://loud.test/a/1"}, new_thread=True)
        await distribute.announce(session, world.settings, actor, "https://loud.test/p/1", new_thread=True)
        limited = await count(session, OutboxActivity)
        await distribute.announce(session, world.settings, actor, {"type": "Create", "actor": "https://fine.test/u/b",
                                                                  "id": "https://fine.test/a/1"}, new_thread=True)
        return limited, await count(session, OutboxActivity)
    assert await world(run) == (0, 1)
