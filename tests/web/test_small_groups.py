"""Small groups over real HTTP: starting one from a thread, inviting, and who sees members-only threads.

hope is an ordinary community; alice opened a thread there, bob and carol answered it. alice
starts a small group from the thread and invites bob; carol is left out. Members-only text is
distinctive ("MEMBERS-ONLY-…"), so a page that shows it can be found by a plain search.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts, actions, following, small_groups
from fedisupport.domain.errors import DomainError
from fedisupport.models import Actor, Community, GroupInvitation, HeldItem, Post
from fedisupport.models.content import MEMBERS
from tests.support.forms import csrf_of, log_in, submit

PASSWORD = "a long enough password"
SECRET_TITLE = "MEMBERS-ONLY-title-4471"
SECRET_BODY = "MEMBERS-ONLY-body-9902"
AP = {"Accept": "application/activity+json"}


@dataclass
class World:
    ids: dict = field(default_factory=dict)


async def seed(instance) -> World:
    """hope with members alice, bob and carol; alice's public thread, answered by bob and carol."""
    w = World()
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        people = {}
        for name in ("alice", "bob", "carol"):
            user = await accounts.create_user(session, s, name, PASSWORD)
            people[name] = await session.get(Actor, user.actor_id)
        hope = await accounts.create_community(session, s, "hope", "Hope")
        group_actor = await session.get(Actor, hope.actor_id)
        for person in people.values():
            await following.follow(session, s, person, group_actor)
        thread = await actions.write_thread(session, s, people["alice"], hope, title="Nights are hard",
                                            body="Who else is awake at 3am?")
        await actions.write_reply(session, s, people["bob"], thread, body="Me, most nights.")
        await actions.write_reply(session, s, people["carol"], thread, body="Sometimes.")
        w.ids = {name: actor.id for name, actor in people.items()}
        w.ids.update(hope=hope.id, thread=thread.id)
    return w


async def start_group(client: httpx.AsyncClient, thread_id: int) -> str:
    started = await submit(client, f"/p/{thread_id}/small-group", f"/p/{thread_id}/small-group", {
        "title": "Night owls", "description": "For the small hours.", "rules": "What is said here stays here."})
    assert started.status_code == 303, started.text
    match = re.fullmatch(r"/c/([a-z0-9_]+)/invite\?started=1", started.headers["location"])
    assert match, started.headers["location"]
    return match.group(1)


async def group_with_thread(instance, w: World) -> tuple[str, int]:
    """alice starts the group and invites bob; bob accepts; alice opens a members-only thread."""
    async with instance.client() as alice:
        await log_in(alice, "alice")
        name = await start_group(alice, w.ids["thread"])
        sent = await submit(alice, f"/c/{name}/invite", f"/c/{name}/invite", {"invitee": [str(w.ids["bob"])]})
        assert sent.status_code == 303 and sent.headers["location"].endswith("sent=1")
    async with instance.client() as bob:
        await log_in(bob, "bob")
        page = await bob.get("/invitations")
        invitation_id = re.search(r'action="/invitations/(\d+)/accept"', page.text).group(1)
        joined = await bob.post(f"/invitations/{invitation_id}/accept", data={"csrf_token": csrf_of(page.text)})
        assert joined.status_code == 303 and joined.headers["location"] == f"/c/{name}?joined=1"
    async with instance.client() as alice:
        await log_in(alice, "alice")
        made = await submit(alice, f"/c/{name}/new", f"/c/{name}/new",
                            {"title": SECRET_TITLE, "body": SECRET_BODY, "language": "en"})
        assert made.status_code == 303, made.text
        thread_id = int(made.headers["location"].rsplit("/", 1)[1])
    return name, thread_id


async def test_a_member_starts_a_small_group_from_a_thread_and_invites_someone_from_it(instance):
    w = await seed(instance)
    async with instance.client() as alice:
        await log_in(alice, "alice")
        thread_page = await alice.get(f"/p/{w.ids['thread']}")
        assert "Start a smaller group from this thread" in thread_page.text
        name = await start_group(alice, w.ids["thread"])
        invite_page = await alice.get(f"/c/{name}/invite?started=1")
        # Everyone who took part, except alice herself, may be invited.
        assert "bob" in invite_page.text and "carol" in invite_page.text
        assert f'value="{w.ids["alice"]}"' not in invite_page.text
        # A form without its token changes nothing.
        refused = await alice.post(f"/c/{name}/invite", data={"invitee": str(w.ids["bob"])})
        assert refused.status_code == 403
        sent = await submit(alice, f"/c/{name}/invite", f"/c/{name}/invite", {"invitee": [str(w.ids["bob"])]})
        assert sent.status_code == 303
    async with instance.sessions() as session:
        group = await session.scalar(select(Community).where(Community.name == name))
        actor = await session.get(Actor, group.actor_id)
        assert group.members_only and group.requires_approval and actor.manually_approves_followers
        assert group.parent_thread_id == w.ids["thread"] and group.parent_community_id == w.ids["hope"]
        alice_actor = await session.get(Actor, w.ids["alice"])
        assert await small_groups.is_member(session, alice_actor, group.actor_id)
        invitations = list(await session.scalars(select(GroupInvitation).where(GroupInvitation.community_id == group.id)))
        assert [(i.invitee_id, i.state) for i in invitations] == [(w.ids["bob"], "invited")]

    async with instance.client() as carol:
        await log_in(carol, "carol")
        assert "Night owls" not in (await carol.get("/invitations")).text
        # Asking to join without an invitation waits for a moderator.
        asked = await submit(carol, f"/c/{name}", f"/c/{name}/join", {})
        assert asked.status_code == 303
    async with instance.sessions() as session:
        group = await session.scalar(select(Community).where(Community.name == name))
        held = await session.scalar(select(HeldItem).where(HeldItem.community_id == group.id, HeldItem.kind == "follow"))
        assert held is not None and held.state == "pending"
        assert not await small_groups.is_member(session, await session.get(Actor, w.ids["carol"]), group.actor_id)

    async with instance.client() as bob:
        await log_in(bob, "bob")
        page = await bob.get("/invitations")
        assert "Night owls" in page.text and "alice invited you" in page.text
        invitation_id = re.search(r'action="/invitations/(\d+)/accept"', page.text).group(1)
        joined = await bob.post(f"/invitations/{invitation_id}/accept", data={"csrf_token": csrf_of(page.text)})
        assert joined.status_code == 303
        group_page = await bob.get(f"/c/{name}")
        assert "You're a member." in group_page.text
        members = await bob.get(f"/c/{name}/members")
        assert members.status_code == 200 and "alice" in members.text and "owner" in members.text


async def test_members_only_threads_are_shown_to_members_and_to_nobody_else(instance):
    w = await seed(instance)
    name, thread_id = await group_with_thread(instance, w)
    async with instance.sessions() as session:
        thread = await session.get(Post, thread_id)
        assert thread.visibility == MEMBERS

    async with instance.client() as bob:
        await log_in(bob, "bob")
        page = await bob.get(f"/p/{thread_id}")
        assert page.status_code == 200 and SECRET_BODY in page.text
        assert "Members only" in page.text
        assert SECRET_TITLE in (await bob.get(f"/c/{name}")).text
        replied = await submit(bob, f"/p/{thread_id}", f"/p/{thread_id}/reply", {"body": "MEMBERS-ONLY-reply-1"})
        assert replied.status_code == 303, replied.text
    async with instance.sessions() as session:
        reply = await session.scalar(select(Post).where(Post.thread_id == thread_id, Post.id != thread_id))
        assert reply.visibility == MEMBERS

    async with instance.client() as anonymous, instance.client() as carol:
        await log_in(carol, "carol")
        for client in (anonymous, carol):
            for path in (f"/p/{thread_id}", f"/p/{reply.id}", f"/p/{thread_id}/reply", f"/c/{name}/members"):
                assert (await client.get(path)).status_code == 404, path
            for path in (f"/p/{thread_id}", f"/p/{thread_id}/replies", f"/p/{thread_id}/context",
                         f"/p/{reply.id}"):
                answer = await client.get(path, headers=AP)
                assert answer.status_code == 404, path
            for path in ("/", f"/c/{name}", "/c/hope", f"/c/{name}/outbox", "/c/hope/outbox", "/u/alice/outbox",
                         "/nodeinfo/2.1"):
                answer = await client.get(path, headers=AP if "outbox" in path else {})
                assert "MEMBERS-ONLY" not in answer.text, path
            group_page = await client.get(f"/c/{name}")
            assert group_page.status_code == 200 and "Night owls" in group_page.text
            assert "Night owls" not in (await client.get("/")).text  # small groups are never listed
        # Writing into it as a non-member: refused, and nothing is stored.
        page = await carol.get(f"/p/{w.ids['thread']}")
        posted = await carol.post(f"/p/{thread_id}/reply", data={"csrf_token": csrf_of(page.text), "body": "hello"})
        assert posted.status_code == 404
        liked = await carol.post(f"/p/{thread_id}/like", data={"csrf_token": csrf_of(page.text)})
        assert liked.status_code == 409
    async with instance.sessions() as session:
        assert (await session.get(Post, thread_id)).like_count == 0
        assert len(list(await session.scalars(select(Post).where(Post.thread_id == thread_id)))) == 2


async def test_only_members_start_groups_and_only_participants_are_invited(instance):
    w = await seed(instance)
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        stranger_user = await accounts.create_user(session, s, "dana", PASSWORD)
        dana = await session.get(Actor, stranger_user.actor_id)
        thread = await session.get(Post, w.ids["thread"])
        with pytest.raises(DomainError, match="Only members"):
            await small_groups.start(session, s, dana, thread, title="Mine")
        with pytest.raises(DomainError, match="name"):
            await small_groups.start(session, s, await session.get(Actor, w.ids["alice"]), thread, title="  ")
    async with db.transaction(instance.sessions) as session:
        alice = await session.get(Actor, w.ids["alice"])
        group = await small_groups.start(session, s, alice, await session.get(Post, w.ids["thread"]), title="Owls")
        dana = await session.scalar(select(Actor).where(Actor.username == "dana"))
        with pytest.raises(DomainError, match="took part"):
            await small_groups.invite(session, s, alice, group, dana)
        bob = await session.get(Actor, w.ids["bob"])
        with pytest.raises(DomainError):  # only the group's moderators invite
            await small_groups.invite(session, s, bob, group, await session.get(Actor, w.ids["carol"]))
        invitation = await small_groups.invite(session, s, alice, group, await session.get(Actor, w.ids["carol"]))
        group_id = group.id
    async with db.transaction(instance.sessions) as session:
        carol = await session.get(Actor, w.ids["carol"])
        await small_groups.answer(session, s, carol, invitation.id, accept=False)
    async with instance.sessions() as session:
        assert (await session.get(GroupInvitation, invitation.id)).state == "declined"
        group = await session.get(Community, group_id)
        assert not await small_groups.is_member(session, await session.get(Actor, w.ids["carol"]), group.actor_id)
        # The group can't be started from inside a small group, nor written in by a non-member.
        with pytest.raises(DomainError):
            await actions.write_thread(session, s, await session.get(Actor, w.ids["carol"]), group, title="x", body="y")


async def test_a_member_reports_a_members_only_post_and_the_group_moderators_see_it(instance):
    """bob reports carol's members-only reply; only members reach the form, alice (the owner) handles it."""
    w = await seed(instance)
    name, thread_id = await group_with_thread(instance, w)
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        dana = await session.get(Actor, (await accounts.create_user(session, s, "dana", PASSWORD)).actor_id)
        group = await session.scalar(select(Community).where(Community.name == name))
        invitation = await small_groups.invite(session, s, await session.get(Actor, w.ids["alice"]), group,
                                               await session.get(Actor, w.ids["carol"]))
    async with db.transaction(instance.sessions) as session:
        carol = await session.get(Actor, w.ids["carol"])
        await small_groups.answer(session, s, carol, invitation.id, accept=True)
        reply = await actions.write_reply(session, s, carol, await session.get(Post, thread_id),
                                          body="MEMBERS-ONLY-reported-reply-3120")
        reply_id = reply.id
    reason = "REPORT-REASON-this-felt-unkind"

    async with instance.client() as bob:
        await log_in(bob, "bob")
        thread_page = await bob.get(f"/p/{thread_id}")
        assert f'href="/p/{reply_id}/report"' in thread_page.text
        form = await bob.get(f"/p/{reply_id}/report")
        assert form.status_code == 200 and "private" in form.headers["cache-control"]
        sent = await bob.post(f"/p/{reply_id}/report", data={"csrf_token": csrf_of(form.text), "category": "rule",
                                                             "reason": reason})
        assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1"), sent.text

    # Not a member (nor signed in): the same 404 as for a post that does not exist; nothing is filed.
    async with instance.client() as stranger, instance.client() as anonymous:
        await log_in(stranger, "dana")
        for client in (stranger, anonymous):
            assert (await client.get(f"/p/{reply_id}/report")).status_code == 404
            token = csrf_of((await client.get(f"/p/{w.ids['thread']}/report")).text)
            refused = await client.post(f"/p/{reply_id}/report", data={"csrf_token": token, "category": "rule",
                                                                       "reason": "REPORT-REASON-stranger"})
            assert refused.status_code == 404 and "MEMBERS-ONLY" not in refused.text
        assert reason not in (await stranger.get("/mod")).text
    async with instance.sessions() as session:
        from fedisupport.models import Report
        reports = list(await session.scalars(select(Report).where(Report.post_id == reply_id)))
        assert [(r.reporter_id, r.community_id, r.reason) for r in reports] == [(w.ids["bob"], group.id, reason)]

    # The group's owner sees it in her queue and removes the reply; the public modlog says only "a reply".
    async with instance.client() as alice:
        await log_in(alice, "alice")
        queue = await alice.get("/mod")
        assert queue.status_code == 200 and reason in queue.text and "MEMBERS-ONLY-reported-reply-3120" in queue.text
        removed = await alice.post(f"/p/{reply_id}/moderate", data={
            "csrf_token": csrf_of(queue.text), "action": "remove", "reason": "Please be kind here.", "next": "queue"})
        assert removed.status_code == 303, removed.text
    async with instance.sessions() as session:
        assert (await session.get(Post, reply_id)).state == "removed"
    async with instance.client() as anonymous:
        for path in ("/modlog", f"/c/{name}/modlog"):
            log = await anonymous.get(path)
            assert log.status_code == 200 and "Please be kind here." in log.text, path
            assert "a reply" in log.text
            for secret in ("MEMBERS-ONLY", SECRET_TITLE, "carol", reason):
                assert secret not in log.text, (path, secret)


async def test_a_mistake_in_the_form_is_shown_beside_its_field_and_nothing_is_started(instance):
    w = await seed(instance)
    path = f"/p/{w.ids['thread']}/small-group"
    async with instance.client() as alice:
        await log_in(alice, "alice")
        for data, field_name in (({"title": " ", "rules": "Be kind."}, "title"),
                                 ({"title": "Owls", "description": "x" * 5001}, "description"),
                                 ({"title": "Owls", "rules": "\n".join(f"Rule {n}" for n in range(30))}, "rules")):
            answer = await submit(alice, path, path, data)
            assert answer.status_code == 400, field_name
            assert f'id="{field_name}-error"' in answer.text, field_name
            assert answer.text.count('class="field-message"') == 1
    async with instance.sessions() as session:
        assert await session.scalar(select(Community.id).where(Community.members_only.is_(True))) is None
