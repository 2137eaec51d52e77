"""Pseudonyms over real HTTP: writing under one, who may see the link, and a crawl that finds none.

The real person here has distinctive ids (actor 7391582046, user 8264019375), a distinctive name,
display name and email, so a crawl can search every answer for any of them next to the
pseudonym's.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re

import httpx
import pytest
from sqlalchemy import func, select, update

from fedisupport import db, urls
from fedisupport.activitypub.signatures import generate_keypair, sign_request
from fedisupport.domain import accounts, actions, following, moderation, pseudonyms, small_groups
from fedisupport.domain.errors import DomainError
from fedisupport.models import (PERSON, Actor, Community, CommunityBan, ModAction, OutboxActivity, Post, Pseudonym,
                                User, utcnow)
from tests.support.crawl import Crawl, containing, leaks
from tests.support.forms import csrf_of, log_in, submit

PASSWORD = "a long enough password"
REAL_ACTOR_ID = 7391582046
REAL_USER_ID = 8264019375
REAL_NAME = "rowan_realname"
REAL_DISPLAY = "Rowan Realperson"
REAL_EMAIL = "rowan.real@example.org"
CHOSEN = "Lantern Keeper"
# A small group's members-only text, which the crawl must never find (docs/small-groups.md).
SECRET_TITLE = "MEMBERS-ONLY-title-5521"
SECRET_BODY = "MEMBERS-ONLY-body-8143"
SECRET_REPLY = "MEMBERS-ONLY-reply-2290"
AP = {"Accept": "application/activity+json"}


# --- helpers ------------------------------------------------------------------------------------


def words(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


async def marked_person(session, settings) -> Actor:
    """The real person, made by hand so their row ids are distinctive enough to search for."""
    private_pem, public_pem = generate_keypair()
    ap_id = urls.person(settings, REAL_NAME)
    actor = Actor(id=REAL_ACTOR_ID, ap_id=ap_id, kind=PERSON, local=True, username=REAL_NAME, domain=settings.domain,
                  display_name=REAL_DISPLAY, summary="", url=ap_id, inbox_url=ap_id + "/inbox",
                  shared_inbox_url=urls.shared_inbox(settings), outbox_url=ap_id + "/outbox",
                  followers_url=ap_id + "/followers", key_id=urls.key_id(ap_id), public_key_pem=public_pem,
                  private_key_pem=private_pem)
    session.add(actor)
    await session.flush()
    session.add(User(id=REAL_USER_ID, actor_id=actor.id, email=REAL_EMAIL,
                     password_hash=accounts.hash_password(PASSWORD), approved=True))
    await session.flush()
    return actor


class World:
    def __init__(self, instance):
        self.instance = instance
        self.ids: dict[str, int] = {}


async def seed(instance) -> World:
    """hope (pseudonyms allowed; owner olga, moderator mo), calm (not allowed); admin ada; members
    rowan (the real person) and bea. bea opened a thread in hope; rowan wrote in calm as himself."""
    w = World(instance)
    s = instance.settings
    async with db.transaction(instance.sessions) as session:
        rowan = await marked_person(session, s)
        people = {"rowan": rowan}
        for name, admin in (("ada", True), ("olga", False), ("mo", False), ("bea", False)):
            user = await accounts.create_user(session, s, name, PASSWORD, is_admin=admin)
            people[name] = await session.get(Actor, user.actor_id)
        hope = await accounts.create_community(session, s, "hope", "Hope", owner=people["olga"])
        hope.allow_pseudonyms = True
        calm = await accounts.create_community(session, s, "calm", "Calm")
        await accounts.make_moderator(session, s, "hope", "mo")
        for name in ("rowan", "bea"):
            for community in (hope, calm):
                await following.follow(session, s, people[name], await session.get(Actor, community.actor_id))
        thread = await actions.write_thread(session, s, people["bea"], hope, title="Struggling today",
                                            body="It has been a long week.")
        own = await actions.write_thread(session, s, rowan, calm, title="Hello from Rowan", body="My own words.")
        w.ids = {name: actor.id for name, actor in people.items()}
        w.ids.update(hope=hope.id, calm=calm.id, thread=thread.id, own_thread=own.id)
    return w


async def pseudonym_of(instance, real_actor_id: int, community_id: int) -> Actor | None:
    async with instance.sessions() as session:
        return await session.scalar(
            select(Actor).join(Pseudonym, Pseudonym.actor_id == Actor.id).join(User, User.id == Pseudonym.user_id)
            .where(User.actor_id == real_actor_id, Pseudonym.community_id == community_id))


async def reply_as_pseudonym(client, thread_id: int, body: str, name: str = "") -> httpx.Response:
    data = {"body": body, "pseudonym": "on"}
    if name:
        data["pseudonym_name"] = name
    return await submit(client, f"/p/{thread_id}", f"/p/{thread_id}/reply", data)


# --- writing under a pseudonym --------------------------------------------------------------------------


async def test_a_pseudonym_is_made_once_per_community_and_reused(instance):
    w = await seed(instance)
    async with instance.client() as client:
        await log_in(client, REAL_NAME)
        form = await client.get(f"/p/{w.ids['thread']}")
        assert "Post under my pseudonym in this community" in form.text
        assert 'name="pseudonym_name"' in form.text  # none yet: they may choose its name
        assert form.headers["cache-control"] == "private, no-store"

        first = await reply_as_pseudonym(client, w.ids["thread"], "Me too. It helps to read this.", CHOSEN)
        assert first.status_code == 303, first.text
        pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
        assert pseudonym is not None and pseudonym.kind == PERSON and pseudonym.local
        assert re.fullmatch(r"[a-z]+_[a-z]+_\d{2,4}", pseudonym.username)
        assert pseudonym.display_name == CHOSEN and pseudonym.summary == ""
        assert pseudonym.private_key_pem and pseudonym.public_key_pem != (await _actor(instance, REAL_ACTOR_ID)).public_key_pem

        # The form now names the pseudonym and asks for no name; the next post reuses it.
        again = await client.get(f"/p/{w.ids['thread']}")
        assert f"Your pseudonym here is <strong>{CHOSEN}</strong> (@{pseudonym.username})" in again.text
        assert 'name="pseudonym_name"' not in again.text
        second = await submit(client, "/c/hope/new", "/c/hope/new", {
            "title": "A night like this", "body": "Can't sleep again.", "language": "en", "pseudonym": "on"})
        assert second.status_code == 303, second.text
        without = await reply_as_pseudonym(client, w.ids["thread"], "Thinking of you all.")
        assert without.status_code == 303
        # Unticked, the same form posts as themself.
        plain = await submit(client, f"/p/{w.ids['thread']}", f"/p/{w.ids['thread']}/reply", {"body": "Signed, Rowan."})
        assert plain.status_code == 303

    async with instance.sessions() as session:
        authors = list(await session.scalars(select(Post.author_id).where(Post.community_id == (
            select(Community.actor_id).where(Community.id == w.ids["hope"]).scalar_subquery()), Post.local.is_(True),
            Post.author_id != w.ids["bea"]).order_by(Post.published_at, Post.id)))
        assert authors == [pseudonym.id, pseudonym.id, pseudonym.id, REAL_ACTOR_ID]
        assert await session.scalar(select(func.count(Pseudonym.id))) == 1
        # Its own Creates, signed as itself.
        creates = list(await session.scalars(select(OutboxActivity.body).where(OutboxActivity.actor_id == pseudonym.id,
                                                                               OutboxActivity.type == "Create")))
        assert len(creates) == 3 and all(json.loads(b)["actor"] == pseudonym.ap_id for b in creates)
        assert all(REAL_NAME not in b for b in creates)

    # Another community that allows them gives another pseudonym; one that doesn't refuses.
    async with db.transaction(instance.sessions) as session:
        calm = await session.get(Community, w.ids["calm"])
        rowan = await session.get(Actor, REAL_ACTOR_ID)
        with pytest.raises(pseudonyms.PseudonymError, match="doesn't offer pseudonyms"):
            await pseudonyms.writer_for(session, instance.settings, rowan, calm)
        calm.allow_pseudonyms = True
        other = await pseudonyms.writer_for(session, instance.settings, rowan, calm)
        assert other.id != pseudonym.id and other.display_name  # a made-up one: "Quiet Heron"
        assert other.display_name == pseudonyms.display_name_for(other.username)


async def _actor(instance, actor_id: int) -> Actor:
    async with instance.sessions() as session:
        return await session.get(Actor, actor_id)


async def test_the_choice_is_offered_only_where_it_can_be_used(instance):
    w = await seed(instance)
    async with instance.client() as anonymous:
        assert "pseudonym" not in (await anonymous.get(f"/p/{w.ids['thread']}")).text
    async with instance.client() as client:
        await log_in(client, REAL_NAME)
        assert "pseudonym" not in (await client.get("/c/calm/new")).text  # calm doesn't allow them
        assert "Post under my pseudonym" in (await client.get("/c/hope/new")).text
        assert "Post under my pseudonym" in (await client.get(f"/p/{w.ids['thread']}/reply")).text
    # Someone who hasn't joined is told to join first, and a forged tick is refused.
    async with db.transaction(instance.sessions) as session:
        await accounts.create_user(session, instance.settings, "newcomer", PASSWORD)
    async with instance.client() as client:
        await log_in(client, "newcomer")
        page = await client.get(f"/p/{w.ids['thread']}")
        assert "Join the community to use one" in page.text and 'name="pseudonym"' not in page.text
        refused = await reply_as_pseudonym(client, w.ids["thread"], "Words worth keeping.")
        assert refused.status_code == 400
        assert "Please join it first" in words(refused.text) and "Words worth keeping." in refused.text


async def test_a_name_that_gives_them_away_is_refused_kindly(instance):
    w = await seed(instance)
    async with instance.client() as client:
        await log_in(client, REAL_NAME)
        for name in ("Rowan Realperson", "ROWAN_REALNAME", "rowan.realname2"):
            refused = await reply_as_pseudonym(client, w.ids["thread"], "Please keep these words.", name)
            assert refused.status_code == 400
            assert "it would give you away" in words(refused.text)
            assert "Please keep these words." in refused.text  # nothing they wrote is lost
            assert 'href="#pseudonym"' in refused.text and 'aria-invalid="true"' in refused.text
    assert await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"]) is None


async def test_the_real_author_edits_and_deletes_and_nobody_else_can(instance):
    w = await seed(instance)
    async with instance.client() as rowan, instance.client() as bea:
        await log_in(rowan, REAL_NAME)
        await log_in(bea, "bea")
        await reply_as_pseudonym(rowan, w.ids["thread"], "First words.")
        pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
        async with instance.sessions() as session:
            reply_id = await session.scalar(select(Post.id).where(Post.author_id == pseudonym.id))

        page = await rowan.get(f"/p/{w.ids['thread']}")
        mine = re.search(rf'<article [^>]*id="p-{reply_id}".*?</article>', page.text, re.S).group(0)
        assert f"/p/{reply_id}/edit" in mine and "Posted under your pseudonym" in mine
        assert f"/p/{reply_id}/like" not in mine  # never liked by their own name
        theirs = await bea.get(f"/p/{w.ids['thread']}")
        other = re.search(rf'<article [^>]*id="p-{reply_id}".*?</article>', theirs.text, re.S).group(0)
        assert f"/p/{reply_id}/edit" not in other and "your pseudonym" not in other
        assert f"/p/{reply_id}/like" in other

        assert (await bea.get(f"/p/{reply_id}/edit")).status_code == 403
        edited = await submit(rowan, f"/p/{reply_id}/edit", f"/p/{reply_id}/edit", {"body": "Better words."})
        assert edited.status_code == 303, edited.text
        async with instance.sessions() as session:
            post = await session.get(Post, reply_id)
            assert post.source == "Better words." and post.author_id == pseudonym.id
            update_doc = json.loads(await session.scalar(select(OutboxActivity.body).where(
                OutboxActivity.type == "Update", OutboxActivity.actor_id == pseudonym.id)))
            assert update_doc["actor"] == pseudonym.ap_id

        # Liking their own pseudonymous post by name is refused (it would pair the two in public).
        liked = await submit(rowan, f"/p/{w.ids['thread']}", f"/p/{reply_id}/like", {"next": f"/p/{w.ids['thread']}"})
        assert liked.status_code == 409 and "your own post" in liked.text
        # Their likes elsewhere stay under their own name.
        assert (await submit(rowan, f"/p/{w.ids['thread']}", f"/p/{w.ids['thread']}/like",
                             {"next": f"/p/{w.ids['thread']}"})).status_code == 303
        async with instance.sessions() as session:
            from fedisupport.models import Like
            assert list(await session.scalars(select(Like.actor_id))) == [REAL_ACTOR_ID]

        assert (await bea.get(f"/p/{reply_id}/delete")).status_code == 403
        deleted = await submit(rowan, f"/p/{reply_id}/delete", f"/p/{reply_id}/delete", {})
        assert deleted.status_code == 303
        async with instance.sessions() as session:
            assert (await session.get(Post, reply_id)).state == "deleted"
            delete_doc = json.loads(await session.scalar(select(OutboxActivity.body).where(
                OutboxActivity.type == "Delete", OutboxActivity.actor_id == pseudonym.id)))
            assert delete_doc["actor"] == pseudonym.ap_id


# --- who sees the link ------------------------------------------------------------------------------


async def test_moderators_and_admins_see_the_link_and_other_members_do_not(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Quietly here.", CHOSEN)
    pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
    async with instance.sessions() as session:
        reply_id = await session.scalar(select(Post.id).where(Post.author_id == pseudonym.id))

    for name in ("mo", "olga", "ada"):  # moderator, owner, admin (not a moderator of hope)
        async with instance.client() as client:
            await log_in(client, name)
            listing = await client.get("/c/hope/pseudonyms")
            assert listing.status_code == 200, (name, listing.text)
            assert listing.headers["cache-control"] == "private, no-store"
            text = words(listing.text)
            assert f"@{pseudonym.username}" in text and f"@{REAL_NAME}" in text
            post_page = await client.get(f"/p/{reply_id}/moderate")
            assert f"Posted under a pseudonym by @{REAL_NAME}" in words(post_page.text)
            assert post_page.headers["cache-control"] == "private, no-store"

    for name in ("bea", REAL_NAME):  # another member; the person themself uses their export instead
        async with instance.client() as client:
            await log_in(client, name)
            for path in ("/c/hope/pseudonyms", f"/p/{reply_id}/moderate"):
                refused = await client.get(path)
                assert refused.status_code == 403
                assert pseudonym.username not in refused.text and CHOSEN not in refused.text
                assert name == REAL_NAME or REAL_NAME not in refused.text
    async with instance.client() as client:
        assert (await client.get("/c/hope/pseudonyms")).status_code in (302, 303)  # log in first
        async with db.transaction(instance.sessions) as session:
            await accounts.create_user(session, instance.settings, "calmmod", PASSWORD)
            await accounts.make_moderator(session, instance.settings, "calm", "calmmod")
        await log_in(client, "calmmod")  # a moderator, but of another community
        assert (await client.get("/c/hope/pseudonyms")).status_code == 403
        assert (await client.get("/c/nowhere/pseudonyms")).status_code == 403  # same answer either way


async def test_the_person_exports_their_pseudonyms_and_nobody_else_does(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Written in the dark.", CHOSEN)
        export = await submit(rowan, "/settings/export", "/settings/export", {})
        data = export.json()
    pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
    assert [p["handle"] for p in data["pseudonyms"]] == [pseudonym.handle]
    assert data["pseudonyms"][0]["community"] == "hope" and data["pseudonyms"][0]["display_name"] == CHOSEN
    assert [p["text"] for p in data["pseudonyms"][0]["posts"]] == ["Written in the dark."]
    assert all(p["text"] != "Written in the dark." for p in data["posts"])
    for name in ("bea", "mo", "ada"):
        async with instance.client() as client:
            await log_in(client, name)
            other = (await submit(client, "/settings/export", "/settings/export", {})).text
            assert pseudonym.username not in other and other.count('"pseudonyms": []') == 1


# --- moderation reaches the account behind it --------------------------------------------------------------


async def test_a_ban_of_the_pseudonym_stops_the_account_behind_it_and_shows_only_the_pseudonym(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Before the ban.")
    pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
    async with instance.client() as mo:
        await log_in(mo, "mo")
        banned = await submit(mo, "/c/hope/moderation", "/c/hope/moderation", {
            "action": "ban", "ban_handle": pseudonym.username, "ban_reason": "Unkind words", "ban_length": ""})
        assert banned.status_code == 303, banned.text
        listing = words((await mo.get("/c/hope/pseudonyms")).text)
        assert "banned here" in listing

    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        as_pseudonym = await reply_as_pseudonym(rowan, w.ids["thread"], "After the ban.")
        assert as_pseudonym.status_code == 400
        as_self = await submit(rowan, f"/p/{w.ids['thread']}", f"/p/{w.ids['thread']}/reply", {"body": "Me, then."})
        assert as_self.status_code == 400 and "stopped this account from posting here" in words(as_self.text)
        elsewhere = await submit(rowan, "/c/calm/new", "/c/calm/new", {"title": "Still here", "body": "In calm.",
                                                                       "language": "en"})
        assert elsewhere.status_code == 303  # only this community

    async with instance.sessions() as session:
        bans = list(await session.scalars(select(CommunityBan.actor_id)))
        assert bans == [pseudonym.id]  # one row, one Block, one modlog line: the pseudonym's
        blocks = [json.loads(b) for b in await session.scalars(select(OutboxActivity.body)
                                                                .where(OutboxActivity.type == "Block"))]
        assert [b["object"] for b in blocks] == [pseudonym.ap_id]
    async with instance.client() as client:
        modlog = (await client.get("/c/hope/modlog")).text
        assert pseudonym.username in modlog and REAL_NAME not in modlog

    # A ban of the account stops its pseudonym too; lifting the pseudonym's ban frees both.
    async with db.transaction(instance.sessions) as session:
        hope = await session.get(Community, w.ids["hope"])
        mo = await session.get(Actor, w.ids["mo"])
        await moderation.unban(session, instance.settings, mo, hope, await session.get(Actor, pseudonym.id))
        await moderation.ban(session, instance.settings, mo, hope, await session.get(Actor, REAL_ACTOR_ID))
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        assert (await reply_as_pseudonym(rowan, w.ids["thread"], "Sneaking back.")).status_code == 400
    async with db.transaction(instance.sessions) as session:
        await moderation.unban(session, instance.settings, await session.get(Actor, w.ids["mo"]),
                               await session.get(Community, w.ids["hope"]), await session.get(Actor, REAL_ACTOR_ID))
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        assert (await reply_as_pseudonym(rowan, w.ids["thread"], "Back, gently.")).status_code == 303


async def test_an_admin_can_suspend_the_pseudonym_and_the_account_behind_it_privately(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Hello.")
        pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
        async with instance.client() as mo:  # a moderator sees the link but can't suspend
            await log_in(mo, "mo")
            page = await mo.get("/c/hope/pseudonyms")
            assert "owner_too" not in page.text
            refused = await mo.post("/c/hope/pseudonyms", data={"csrf_token": csrf_of(page.text), "action": "suspend",
                                                               "pseudonym": str(pseudonym.id), "owner_too": "on"})
            assert refused.status_code == 400 and not (await _actor(instance, pseudonym.id)).suspended
        async with instance.client() as ada:
            await log_in(ada, "ada")
            done = await submit(ada, "/c/hope/pseudonyms", "/c/hope/pseudonyms", {
                "action": "suspend", "pseudonym": str(pseudonym.id), "owner_too": "on", "reason": "Harassment"})
            assert done.status_code == 303
        # Signed out at once, and can't sign in again.
        assert "Post reply" not in (await rowan.get(f"/p/{w.ids['thread']}")).text
    assert (await _actor(instance, pseudonym.id)).suspended and (await _actor(instance, REAL_ACTOR_ID)).suspended
    async with instance.client() as client:
        modlog = (await client.get("/modlog")).text
        assert pseudonym.username in modlog and REAL_NAME not in modlog
    async with instance.sessions() as session:
        private = await session.scalar(select(ModAction).where(ModAction.action == "suspend_owner"))
        assert private.target_actor_id == REAL_ACTOR_ID


# --- counts, and what happens when the person leaves ---------------------------------------------------------


async def test_nodeinfo_counts_accounts_not_pseudonyms(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        async with instance.client() as client:
            before = (await client.get("/nodeinfo/2.1")).json()["usage"]
        instance.app.state.nodeinfo_cache = None
        await reply_as_pseudonym(rowan, w.ids["thread"], "Counted as a post, not a person.")
    instance.app.state.nodeinfo_cache = None
    async with instance.client() as client:
        after = (await client.get("/nodeinfo/2.1")).json()["usage"]
    assert after["users"] == before["users"] and after["users"]["total"] == 5
    assert after["localPosts"] == before["localPosts"] + 1


async def test_when_the_account_is_deleted_the_link_goes_at_once_and_the_pseudonym_later(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Goodbye for now.")
    pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
    from fedisupport.domain.account_deletion import delete_account
    async with db.transaction(instance.sessions) as session:
        await delete_account(session, instance.settings, await session.get(User, REAL_USER_ID))
    async with instance.sessions() as session:
        row = await session.scalar(select(Pseudonym).where(Pseudonym.actor_id == pseudonym.id))
        assert row.user_id is None  # the link went with the account
    async with instance.client() as client:
        assert (await client.get(f"/u/{pseudonym.username}", headers=AP)).status_code == 200  # not yet

    assert await pseudonyms.retire_orphans(instance.services) == 0  # scheduled, days away
    async with instance.sessions() as session:
        row = await session.scalar(select(Pseudonym).where(Pseudonym.actor_id == pseudonym.id))
        wait = row.retire_after - utcnow()
    assert pseudonyms.RETIRE_DELAY[0] - dt.timedelta(minutes=1) <= wait <= pseudonyms.RETIRE_DELAY[1]
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Pseudonym).values(retire_after=utcnow()))
    assert await pseudonyms.retire_orphans(instance.services) == 1
    async with instance.client() as client:
        gone = await client.get(f"/u/{pseudonym.username}", headers=AP)
        assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    async with instance.sessions() as session:
        assert await session.scalar(select(func.count(Pseudonym.id))) == 0


async def test_the_setting_is_changed_on_the_community_settings_page(instance):
    w = await seed(instance)
    async with instance.client() as olga:
        await log_in(olga, "olga")
        page = await olga.get("/c/hope/settings")
        assert re.search(r'id="allow_pseudonyms" name="allow_pseudonyms"[^>]* checked', page.text)
        form = {"title": "Hope", "description": "", "languages": "", "rules": "", "microblog_distribution": "threads"}
        saved = await olga.post("/c/hope/settings", data={"csrf_token": csrf_of(page.text), **form})
        assert saved.status_code == 303
    async with instance.sessions() as session:
        assert not (await session.get(Community, w.ids["hope"])).allow_pseudonyms


# --- the crawl -------------------------------------------------------------------------------------------------


# The crawler lives in tests/support/crawl.py; this crawl also looks for a small group's
# members-only text (docs/small-groups.md), so one crawl covers both kinds of leak.


@pytest.mark.parametrize("authorized_fetch", [False, True])
async def test_a_crawl_as_anonymous_and_as_a_signed_remote_non_member_finds_no_link(start_instance, authorized_fetch):
    async with start_instance(authorized_fetch=authorized_fetch) as instance, start_instance() as other:
        w = await seed(instance)
        async with instance.client() as rowan:
            await log_in(rowan, REAL_NAME)
            assert (await reply_as_pseudonym(rowan, w.ids["thread"], "A reply from the quiet.", CHOSEN)).status_code == 303
            started = await submit(rowan, "/c/hope/new", "/c/hope/new", {
                "title": "Under another name", "body": "A thread from the quiet.", "language": "en", "pseudonym": "on"})
            assert started.status_code == 303
        pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
        async with db.transaction(instance.sessions) as session:
            p_thread = await session.scalar(select(Post).where(Post.author_id == pseudonym.id, Post.is_thread.is_(True)))
            # A reply to the pseudonym's thread, and moderation of the pseudonym (modlog entries).
            bea = await session.get(Actor, w.ids["bea"])
            await actions.write_reply(session, instance.settings, bea, p_thread, body="Sending care.")
            hope = await session.get(Community, w.ids["hope"])
            mo = await session.get(Actor, w.ids["mo"])
            await moderation.ban(session, instance.settings, mo, hope, await session.get(Actor, pseudonym.id),
                                 "a test ban", expires_at=utcnow() + dt.timedelta(days=1))
            p_thread_id = p_thread.id
            # A small group started from bea's thread, with a members-only thread and reply in it.
            group = await small_groups.start(session, instance.settings, bea, await session.get(Post, w.ids["thread"]),
                                             title="Quiet corner", description="For a few of us.")
            secret = await actions.write_thread(session, instance.settings, bea, group, title=SECRET_TITLE,
                                                body=SECRET_BODY)
            secret_reply = await actions.write_reply(session, instance.settings, bea, secret, body=SECRET_REPLY)
            group_name, secret_id, secret_reply_id = group.name, secret.id, secret_reply.id
        # A person on another server who is in no community here signs the second crawl.
        async with db.transaction(other.sessions) as session:
            user = await accounts.create_user(session, other.settings, "stranger", PASSWORD)
            stranger = await session.get(Actor, user.actor_id)

        def signed(url: str, headers: dict) -> dict:
            return sign_request("GET", url, headers, None, stranger.key_id, stranger.private_key_pem)

        domain = instance.settings.domain
        seeds = ["/", "/modlog", "/c/hope", "/c/hope/modlog", "/c/hope/outbox", "/c/hope/followers",
                 "/c/hope/moderators", "/c/hope/featured", "/c/hope/pseudonyms", "/c/calm",
                 f"/u/{pseudonym.username}", f"/u/{pseudonym.username}/outbox", f"/u/{pseudonym.username}/followers",
                 f"/u/{pseudonym.username}/following", f"/u/{pseudonym.username}/report",
                 f"/u/{REAL_NAME}", f"/u/{REAL_NAME}/outbox", f"/u/{REAL_NAME}/followers", f"/u/{REAL_NAME}/following",
                 f"/p/{w.ids['thread']}", f"/p/{p_thread_id}", f"/p/{p_thread_id}/replies", f"/p/{p_thread_id}/context",
                 f"/p/{w.ids['thread']}/replies", f"/p/{w.ids['thread']}/context", f"/p/{w.ids['own_thread']}",
                 f"/p/{p_thread_id}/moderate", f"/p/{p_thread_id}/edit",
                 f"/.well-known/webfinger?resource=acct:{pseudonym.username}@{domain}",
                 f"/.well-known/webfinger?resource=acct:{REAL_NAME}@{domain}",
                 f"/.well-known/webfinger?resource={instance.url('/u/' + pseudonym.username)}",
                 "/.well-known/nodeinfo", "/nodeinfo/2.1", "/nodeinfo/2.0", "/.well-known/host-meta", "/actor",
                 f"/c/{group_name}", f"/c/{group_name}/outbox", f"/c/{group_name}/followers",
                 f"/c/{group_name}/featured", f"/c/{group_name}/members", f"/c/{group_name}/moderators",
                 f"/c/{group_name}/modlog", f"/p/{secret_id}", f"/p/{secret_id}/replies", f"/p/{secret_id}/context",
                 f"/p/{secret_reply_id}", f"/p/{secret_id}/reply", "/u/bea", "/u/bea/outbox",
                 f"/.well-known/webfinger?resource=acct:{group_name}@{domain}"]
        real = {REAL_NAME, REAL_DISPLAY, REAL_EMAIL, str(REAL_ACTOR_ID), str(REAL_USER_ID)}
        fake = {pseudonym.username, CHOSEN, pseudonym.ap_id}

        for sign in (None, signed):
            seen = await Crawl(instance, sign).run(seeds)
            assert leaks(seen, real, fake) == []
            assert containing(seen, {SECRET_TITLE, SECRET_BODY, SECRET_REPLY}) == []
            assert by_url_status(seen, instance, f"/p/{secret_id}") == {404}  # as if it did not exist
            assert by_url_status(seen, instance, f"/c/{group_name}/members") == {404}
            by_url = {(u[len(instance.base_url):], a): r for (u, a), r in seen.items()}
            # The crawl reached both people and the pseudonym's posts, so "no leak" means something.
            assert by_url[(f"/u/{REAL_NAME}", "text/html")].status_code == 200
            assert by_url[(f"/u/{pseudonym.username}", "text/html")].status_code == 200
            actor_doc = by_url[(f"/u/{pseudonym.username}", "application/activity+json")]
            assert actor_doc.status_code == 200 and actor_doc.json()["type"] == "Person"
            thread_html = by_url[(f"/p/{p_thread_id}", "text/html")].text
            assert CHOSEN in thread_html and "A thread from the quiet." in thread_html
            if sign is not None or not authorized_fetch:
                note = by_url[(f"/p/{p_thread_id}", "application/activity+json")].json()
                assert note["attributedTo"] == pseudonym.ap_id
                assert any(u.startswith("/activities/") for u, _ in by_url)  # the outboxes' activities too
            assert by_url[("/c/hope/pseudonyms", "text/html")].status_code in (302, 303)
            assert len(seen) > 60


def by_url_status(seen: dict, instance, path: str) -> set[int]:
    return {r.status_code for (u, _), r in seen.items() if u == instance.base_url + path}


async def test_the_pseudonym_looks_like_an_ordinary_person_to_webfinger_and_its_actor_document(instance):
    w = await seed(instance)
    async with instance.client() as rowan:
        await log_in(rowan, REAL_NAME)
        await reply_as_pseudonym(rowan, w.ids["thread"], "Ordinary.")
    pseudonym = await pseudonym_of(instance, REAL_ACTOR_ID, w.ids["hope"])
    async with instance.client() as client:
        finger = await client.get(f"/.well-known/webfinger?resource=acct:{pseudonym.username}@{instance.settings.domain}")
        real_finger = await client.get(f"/.well-known/webfinger?resource=acct:{REAL_NAME}@{instance.settings.domain}")
        doc = (await client.get(f"/u/{pseudonym.username}", headers=AP)).json()
        real_doc = (await client.get(f"/u/{REAL_NAME}", headers=AP)).json()
    assert finger.status_code == 200 and finger.json()["subject"] == f"acct:{pseudonym.username}@{instance.settings.domain}"
    # The same shape as a real account's answers, key for key: nothing marks it out, nothing points back.
    assert sorted(finger.json()) == sorted(real_finger.json())
    assert [link["rel"] for link in finger.json()["links"]] == [link["rel"] for link in real_finger.json()["links"]]
    assert set(doc) == set(real_doc) - {"summary"} | ({"summary"} if "summary" in doc else set())
    assert doc["type"] == "Person" and doc["id"] == pseudonym.ap_id and doc["publicKey"]["owner"] == pseudonym.ap_id
    assert doc["publicKey"]["publicKeyPem"] != real_doc["publicKey"]["publicKeyPem"]
    body = json.dumps(doc) + finger.text
    for trace in (REAL_NAME, REAL_DISPLAY, REAL_EMAIL, str(REAL_ACTOR_ID), str(REAL_USER_ID)):
        assert trace not in body


def test_a_chosen_name_close_to_their_own_is_refused_and_others_are_kept():
    me = Actor(username="ann", display_name="Annabel Lee", kind=PERSON, local=True)
    for close in ("ann", "A.N.N", "annabel lee", "Annabel Lee the second", "ＡＮＮ"):
        with pytest.raises(pseudonyms.PseudonymError):
            pseudonyms.check_display_name(close, me)
    assert pseudonyms.check_display_name("  Joanne   of the  fields ", me) == "Joanne of the fields"
    assert pseudonyms.check_display_name("", me) is None
    with pytest.raises(DomainError, match="50 characters"):
        pseudonyms.check_display_name("x" * 51, me)
    assert pseudonyms.display_name_for("quiet_heron_42") == "Quiet Heron"
