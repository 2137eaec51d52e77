"""Admins start communities from the web; owners change them, and followers' servers hear of it."""
from __future__ import annotations

import json

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts
from fedisupport.models import Actor, Community, Delivery, Follow, OutboxActivity, Rule, utcnow
from fedisupport.models.social import ACCEPTED
from tests.web.test_accounts import csrf_of, log_in, make_user


async def test_an_admin_starts_a_community_and_its_owner_configures_it(instance):
    await make_user(instance, "root", admin=True)
    await make_user(instance, "sam")
    async with instance.client() as admin:
        await log_in(admin, "root")
        form = await admin.get("/communities/new")
        assert form.status_code == 200 and 'for="requires_approval"' in form.text
        bad = await admin.post("/communities/new", data={"csrf_token": csrf_of(form.text), "name": "Not OK!",
                                                         "title": "Hope", "owner": "sam"})
        assert bad.status_code == 400 and "lowercase letters" in bad.text and 'value="Hope"' in bad.text
        made = await admin.post("/communities/new", data={
            "csrf_token": csrf_of(form.text), "name": "hope", "owner": "sam", "title": "Hope",
            "description": "We listen.", "rules": "Be kind.\r\n\r\nNo advice unless asked.", "languages": "en es",
            "microblog_distribution": "threads"})
        assert made.status_code == 303 and made.headers["location"].startswith("/c/hope")

    async with db.transaction(instance.sessions) as session:
        community = await session.scalar(select(Community).where(Community.name == "hope"))
        assert [r.text for r in await session.scalars(select(Rule).where(Rule.community_id == community.id)
                                                      .order_by(Rule.position))] == ["Be kind.", "No advice unless asked."]
        remote = Actor(ap_id="https://lemmy.example/u/x", kind="person", local=False, username="x",
                       domain="lemmy.example", inbox_url="https://lemmy.example/u/x/inbox",
                       shared_inbox_url="https://lemmy.example/inbox")
        session.add(remote)
        await session.flush()
        session.add(Follow(follower_id=remote.id, target_id=community.actor_id, state=ACCEPTED, accepted_at=utcnow()))

    async with instance.client() as owner, instance.client() as stranger:
        await make_user(instance, "zed")
        await log_in(owner, "sam")
        await log_in(stranger, "zed")
        assert (await stranger.get("/c/hope/settings")).status_code == 403
        page = await owner.get("/c/hope/settings")
        assert page.status_code == 200 and "We listen." in page.text
        forged = await owner.post("/c/hope/settings", data={"csrf_token": "x", "title": "Taken over"})
        assert forged.status_code == 403
        saved = await owner.post("/c/hope/settings", data={
            "csrf_token": csrf_of(page.text), "title": "Hope, together", "description": "We listen.",
            "rules": "Be kind.", "languages": "en", "requires_approval": "on", "microblog_distribution": "all"})
        assert saved.status_code == 303

    async with instance.sessions() as session:
        community = await session.scalar(select(Community).where(Community.name == "hope"))
        group = await session.get(Actor, community.actor_id)
        update = await session.scalar(select(OutboxActivity).where(OutboxActivity.type == "Update"))
        delivery = await session.scalar(select(Delivery).where(Delivery.activity_id == update.id))
    assert (community.title, community.requires_approval, community.microblog_distribution) == ("Hope, together", True, "all")
    assert group.manually_approves_followers and group.display_name == "Hope, together"
    body = json.loads(update.body)
    assert body["object"]["type"] == "Group" and body["object"]["manuallyApprovesFollowers"] is True
    assert delivery.inbox_url == "https://lemmy.example/inbox"
