"""The moderators' pages over real HTTP: the queue (hidden text, urgent first, CSRF on every
action), a post's moderation page, a community's moderators and bans, reports from readers
(signed in or not, rate-limited), suspended accounts, and the public modlog."""
from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import func, select

from fedisupport import db
from fedisupport.domain import accounts, moderation, posting, reports
from fedisupport.models import Actor, Community, CommunityBan, HeldItem, ModAction, Post, Report
from tests.support.forms import csrf_of, log_in, submit

PASSWORD = "a long enough password"


def said(response: httpx.Response) -> str:
    return html.unescape(response.text)


def words(response_text: str) -> str:
    """What a person reads: tags gone, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response_text)).split())


class World:
    ids: dict[str, int]


@pytest.fixture
async def world(instance) -> World:
    """hope (owner olga, moderator mo); admin ada; bea wrote a thread, cy replied; a held reply by
    cy; a remote person rem."""
    w = World()
    w.ids = {}
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        for name, admin in (("ada", True), ("olga", False), ("mo", False), ("bea", False), ("cy", False)):
            user = await accounts.create_user(session, settings, name, PASSWORD, is_admin=admin)
            w.ids[name] = user.actor_id
        hope = await accounts.create_community(session, settings, "hope", "Hope",
                                               owner=await session.get(Actor, w.ids["olga"]))
        w.ids["hope"] = hope.id
        await accounts.make_moderator(session, settings, "hope", "mo")
        bea, cy = await session.get(Actor, w.ids["bea"]), await session.get(Actor, w.ids["cy"])
        thread = await posting.start_thread(session, settings, bea, hope, title="Hard week", body="It has been long.")
        reply = await posting.reply(session, settings, cy, thread, body="I hear you, truly.")
        held = await posting.reply(session, settings, cy, thread, body="SECRET held words")
        await posting.hold(session, held)
        item = HeldItem(kind="post", post_id=held.id, community_id=hope.id, reason="A first post here")
        session.add(item)
        remote = Actor(ap_id="https://far.example/users/rem", kind="person", local=False, username="rem",
                       domain="far.example", inbox_url="https://far.example/users/rem/inbox")
        session.add(remote)
        await session.flush()
        w.ids.update(thread=thread.id, reply=reply.id, held_post=held.id, held=item.id, rem=remote.id)
    return w


async def post_state(instance, post_id: int) -> str:
    async with instance.sessions() as session:
        return (await session.get(Post, post_id)).state


# --- the queue ---------------------------------------------------------------------------------


async def test_the_queue_is_for_moderators(instance, world):
    async with instance.client() as client:
        response = await client.get("/mod")
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/mod")
        await log_in(client, "bea")
        assert (await client.get("/mod")).status_code == 403
    for name in ("mo", "olga", "ada"):
        async with instance.client() as client:
            await log_in(client, name)
            assert (await client.get("/mod")).status_code == 200, name


async def test_held_text_stays_hidden_until_opened_and_approving_publishes(instance, world):
    async with instance.client() as client:
        await log_in(client, "mo")
        page = await client.get("/mod")
        text = page.text
        assert "Posts waiting for review (1)" in said(page)
        # The words are inside a closed <details>: nothing shows until the moderator opens it.
        reveal = re.search(r'<details class="reveal">\s*<summary>Show the post.*?</details>', text, re.S)
        assert reveal and "SECRET held words" in reveal.group(0)
        assert text.count("SECRET held words") == 1 and "<details class=\"reveal\" open" not in text
        assert "A first post here" in text  # why it waits

        # A forged token changes nothing.
        forged = await client.post(f"/mod/held/{world.ids['held']}", data={"csrf_token": "nope", "action": "approve"})
        assert forged.status_code == 403
        assert await post_state(instance, world.ids["held_post"]) == "held"

        response = await client.post(f"/mod/held/{world.ids['held']}",
                                     data={"csrf_token": csrf_of(text), "action": "approve"})
        assert response.status_code == 303 and response.headers["location"] == "/mod?done=approved"
        assert await post_state(instance, world.ids["held_post"]) == "published"
        page = await client.get(response.headers["location"])
        assert "Approved: it is published now." in said(page) and "Nothing is waiting right now" in said(page)
        # Deciding twice says so kindly.
        again = await client.post(f"/mod/held/{world.ids['held']}",
                                  data={"csrf_token": csrf_of(text), "action": "reject"})
        assert again.status_code == 409 and "already decided" in said(again)
    async with instance.sessions() as session:
        thread = await session.get(Post, world.ids["thread"])
        assert thread.thread_reply_count == 2


async def test_urgent_reports_come_first_and_a_removal_from_the_queue_is_logged(instance, world):
    async with db.transaction(instance.sessions) as session:
        reply = await session.get(Post, world.ids["reply"])
        await reports.create_report(session, reporter=await session.get(Actor, world.ids["bea"]), post=reply,
                                       reason="Off topic", category="rule")
        await reports.create_report(session, reporter=await session.get(Actor, world.ids["bea"]), post=reply,
                                       reason="They said they can't go on", category="welfare")
    async with instance.client() as client:
        await log_in(client, "mo")
        page = await client.get("/mod")
        text = said(page)
        assert text.index("Urgent (1)") < text.index("Posts waiting for review") < text.index("Reports (1)")
        assert text.index("Someone is worried about @cy") < text.index("It breaks a rule: @cy")
        assert "bea" not in text  # reporters are never named, not even to moderators
        response = await client.post(f"/p/{world.ids['reply']}/moderate", data={
            "csrf_token": csrf_of(page.text), "action": "remove", "next": "queue", "reason": "Shares a phone number"})
        assert response.status_code == 303 and response.headers["location"] == "/mod?done=removed"
        assert await post_state(instance, world.ids["reply"]) == "removed"
        report_ids = [int(i) for i in re.findall(r'id="report-(\d+)"', page.text)]
        response = await client.post(f"/mod/reports/{report_ids[0]}", data={
            "csrf_token": csrf_of(page.text), "action": "resolve", "resolution": "Reached out to them"})
        assert response.status_code == 303
    async with instance.sessions() as session:
        resolved = await session.get(Report, report_ids[0])
        assert resolved.state == "resolved" and resolved.resolution == "Reached out to them" and resolved.urgent
    async with instance.client() as client:  # the modlog is public
        log = said(await client.get("/modlog"))
        assert "Removed a reply in “Hard week” by @cy" in words(log) and "Shares a phone number" in log
        assert "I hear you" not in log and "mo" not in re.sub(r"<[^>]+>", "", log).split()
        assert "bea" not in log and "Reached out" not in log


# --- one post -----------------------------------------------------------------------------------


async def test_a_threads_moderation_page_locks_pins_slows_and_restores(instance, world):
    path = f"/p/{world.ids['thread']}/moderate"
    async with instance.client() as client:
        await log_in(client, "cy")
        assert (await client.get(path)).status_code == 403
    async with instance.client() as client:
        await log_in(client, "mo")
        for data in ({"action": "lock", "reason": "Taking a breath"}, {"action": "pin"},
                     {"action": "slow_mode", "seconds": "300"}, {"action": "remove", "reason": "Wrong place"},
                     {"action": "restore"}):
            response = await submit(client, path, path, data)
            assert response.status_code == 303, (data, response.text)
        page = said(await client.get(path))
        assert "The thread is locked." in page and "It is pinned." in page and "5 minutes between replies" in page
        bad = await submit(client, path, path, {"action": "slow_mode", "seconds": "7"})
        assert bad.status_code == 400 and "Please choose one of the slow mode settings." in said(bad)
    async with instance.sessions() as session:
        thread = await session.get(Post, world.ids["thread"])
        assert thread.locked and thread.pinned and thread.slow_mode_seconds == 300 and thread.state == "published"
        actions = list(await session.scalars(select(ModAction.action).where(ModAction.action != "appoint")
                                             .order_by(ModAction.id)))
        assert actions == ["lock", "pin", "slow_mode", "remove", "restore"]  # after the setup's appointment


# --- a community's moderators and bans ------------------------------------------------------------


async def test_owners_appoint_moderators_ban_and_lift_bans(instance, world):
    path = "/c/hope/moderation"
    async with instance.client() as client:
        await log_in(client, "mo")
        page = said(await client.get(path))
        assert "Appoint a moderator" not in page  # only the owner or an admin appoints
        response = await submit(client, path, path, {"action": "appoint", "appoint_handle": "bea"})
        assert response.status_code == 400 and "owner or an admin" in said(response)
        # A moderator bans for a week, removing what they posted here.
        response = await submit(client, path, path, {"action": "ban", "ban_handle": "@cy", "ban_reason": "Unkind",
                                                     "ban_length": "7", "remove_data": "yes"})
        assert response.status_code == 303, response.text
        page = said(await client.get(path))
        assert "@cy · until" in page and "“Unkind”" in page
        response = await submit(client, path, path, {"action": "ban", "ban_handle": "nobody_here", "ban_length": "7"})
        assert response.status_code == 400 and "There's nobody called nobody_here" in said(response)
    assert await post_state(instance, world.ids["reply"]) == "removed"
    async with instance.client() as client:
        await log_in(client, "olga")
        response = await submit(client, path, path, {"action": "appoint", "appoint_handle": "@bea"})
        assert response.status_code == 303
        response = await submit(client, path, path, {"action": "appoint", "appoint_handle": "@rem@far.example"})
        assert response.status_code == 303
        response = await submit(client, path, path, {"action": "unban", "handle": "@cy"})
        assert response.status_code == 303
        page = said(await client.get(response.headers["location"]))
        assert "The ban is lifted." in page and "Nobody is banned from Hope." in page
        assert "@bea" in page and "@rem@far.example" in page
    async with instance.sessions() as session:
        assert await session.scalar(select(func.count(CommunityBan.id))) == 0
        roles = dict((a.username, m.role) for m, a in await moderation.moderators_of(
            session, await session.get(Community, world.ids["hope"])))
        assert roles == {"olga": "owner", "mo": "moderator", "bea": "moderator", "rem": "moderator"}


# --- reports ---------------------------------------------------------------------------------------


async def test_readers_report_posts_and_accounts_signed_in_or_not(instance, world):
    path = f"/p/{world.ids['reply']}/report"
    async with instance.client() as client:
        await log_in(client, "bea")
        page = await client.get(path)
        assert "What worries you?" in said(page) and "I'm worried about this person" in said(page)
        response = await submit(client, path, path, {"reason": "no category"})
        assert response.status_code == 400 and "Please choose what worries you." in said(response)
        assert "no category" in said(response)  # their words are kept
        response = await submit(client, path, path, {"category": "welfare", "reason": "They sound hopeless"})
        assert response.status_code == 303 and response.headers["location"] == path + "?sent=welfare"
        thanks = said(await client.get(response.headers["location"]))
        assert "Thank you for telling us" in thanks and "emergency number" in thanks
        response = await submit(client, "/u/cy/report", "/u/cy/report", {"category": "spam"})
        assert response.status_code == 303
    # Someone without an account can tell the moderators too, with the anonymous form token.
    async with instance.client() as client:
        for n in range(3):
            response = await submit(client, path, path, {"category": "other", "reason": f"anonymous {n}"})
            assert response.status_code == 303, response.text
        response = await submit(client, path, path, {"category": "other", "reason": "one too many"})
        assert response.status_code == 429 and "paused reporting" in said(response)
        forged = await client.post(path, data={"csrf_token": "x", "category": "spam"})
        assert forged.status_code == 403
    async with instance.sessions() as session:
        reports = list(await session.scalars(select(Report).order_by(Report.id)))
    assert [(r.category, r.urgent, r.reporter_id is None) for r in reports] == [
        ("welfare", True, False), ("spam", False, False), ("other", False, True), ("other", False, True),
        ("other", False, True)]
    assert reports[1].post_id is None and reports[1].target_actor_id == world.ids["cy"]
    async with instance.client() as client:
        assert (await client.get(f"/p/{world.ids['held_post']}/report")).status_code == 404  # not shown, not reportable
        assert (await client.get("/u/nobody/report")).status_code == 404


# --- suspended accounts ------------------------------------------------------------------------------


async def test_admins_suspend_remote_accounts(instance, world):
    async with instance.client() as client:
        await log_in(client, "mo")
        assert (await client.get("/mod/accounts")).status_code == 403
    async with instance.client() as client:
        await log_in(client, "ada")
        response = await submit(client, "/mod/accounts", "/mod/accounts",
                                {"action": "suspend", "handle": "@rem@far.example", "reason": "Spam wave"})
        assert response.status_code == 303
        assert "@rem@far.example" in said(await client.get("/mod/accounts"))
        response = await submit(client, "/mod/accounts", "/mod/accounts", {"action": "suspend", "handle": "bea"})
        assert response.status_code == 400 and "managed on the admin pages" in said(response)
        log = said(await client.get("/modlog"))
        assert "Suspended on this instance @rem@far.example" in words(log) and "this instance" in log and "Spam wave" in log
    async with instance.sessions() as session:
        assert (await session.get(Actor, world.ids["rem"])).suspended


# --- the modlog ---------------------------------------------------------------------------------------


async def test_the_modlog_pages_by_keyset_and_keeps_join_decisions_private(instance, world):
    async with db.transaction(instance.sessions) as session:
        mo = await session.get(Actor, world.ids["mo"])
        thread = await session.get(Post, world.ids["thread"])
        for n in range(60):
            await moderation.lock_thread(session, instance.settings, mo, thread, locked=n % 2 == 0, reason=f"step {n}")
        session.add(ModAction(moderator_id=mo.id, community_id=world.ids["hope"], action="approve_member",
                              target_actor_id=world.ids["cy"]))
    async with instance.client() as client:
        first = said(await client.get("/c/hope/modlog"))
        assert "step 59" in first and "step 10" in first and "step 9”" not in first
        older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
        assert older.startswith("/c/hope/modlog?before=")
        second = said(await client.get(html.unescape(older)))
        assert "step 9”" in second and "step 0”" in second and "step 10”" not in second
        assert 'rel="next"' not in second
        assert "Locked the thread “Hard week” by @bea" in words(first)
        assert "@cy" not in first + second  # who joined is nobody's business
        assert (await client.get("/c/nowhere/modlog")).status_code == 404
        assert (await client.get("/modlog?before=garbage")).status_code == 200


# --- from the thread page ------------------------------------------------------------------------


async def test_the_thread_page_offers_report_links_to_readers_and_moderation_to_moderators(instance, world):
    async with db.transaction(instance.sessions) as session:
        reply = await session.get(Post, world.ids["reply"])  # answered, so its place stays in the thread
        await posting.reply(session, instance.settings, await session.get(Actor, world.ids["bea"]), reply, body="Thanks")
        await moderation.remove_post(session, instance.settings, await session.get(Actor, world.ids["mo"]),
                                     await session.get(Post, world.ids["reply"]), "Off topic")
    path = f"/p/{world.ids['thread']}"
    async with instance.client() as client:  # not signed in
        page = await client.get(path)
        assert f'href="/p/{world.ids["thread"]}/report"' in page.text and "/moderate" not in page.text
        await log_in(client, "bea")
        page = await client.get(path)
        assert f'href="/p/{world.ids["thread"]}/report"' not in page.text  # her own post: edit and delete instead
        assert "/moderate" not in page.text
    async with instance.client() as client:
        await log_in(client, "mo")
        page = await client.get(path)
        assert "Moderate this thread" in said(page) and "Hope's queue" in said(page)
        assert f'href="/p/{world.ids["reply"]}/moderate"' in page.text  # the removed reply, to restore it
        # Removed posts are listed for the moderators on the community's page too.
        page = said(await client.get("/c/hope/moderation"))
        assert "Recently removed" in page and f'/p/{world.ids["reply"]}/moderate' in page and "“Off topic”" in page
