"""Threads over real HTTP: reading (keyset pages, trees, placeholders) and writing (forms, CSRF)."""
from __future__ import annotations

import contextlib
import datetime as dt
import html
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import event, select, update

from fedisupport import db
from fedisupport.domain import accounts, posting
from fedisupport.models import Actor, Community, Follow, Post
from fedisupport.models.content import DELETED, HELD

PASSWORD = "a long enough password"


# --- helpers --------------------------------------------------------------------------------


class World:
    """Ids of what a test seeded; rows are read again inside each transaction."""

    def __init__(self, instance):
        self.instance = instance
        self.people: dict[str, int] = {}
        self.community_id: int | None = None
        self.thread_id: int | None = None

    async def person(self, session, name: str) -> Actor:
        return await session.get(Actor, self.people[name])


async def seed(instance, *, people=("ada", "bea"), languages: str = "", title: str | None = "Struggling today",
               body: str = "It has been a long week.", content_warning: str | None = None) -> World:
    world = World(instance)
    async with db.transaction(instance.sessions) as session:
        for name in people:
            user = await accounts.create_user(session, instance.settings, name, PASSWORD)
            world.people[name] = user.actor_id
        community = await accounts.create_community(session, instance.settings, "hope", "Hope",
                                                    description="A place to be heard.", languages=languages)
        world.community_id = community.id
        ada = await world.person(session, people[0])
        thread = await posting.start_thread(session, instance.settings, ada, community, title=title, body=body,
                                            content_warning=content_warning)
        world.thread_id = thread.id
    return world


async def add_replies(instance, world: World, bodies, *, parent_id: int | None = None, author: str = "bea") -> list[int]:
    ids = []
    async with db.transaction(instance.sessions) as session:
        who = await world.person(session, author)
        for body in bodies:
            parent = await session.get(Post, parent_id or world.thread_id)
            ids.append((await posting.reply(session, instance.settings, who, parent, body=body)).id)
    return ids


async def reply_to(instance, world: World, parent_id: int, body: str, author: str = "bea") -> int:
    return (await add_replies(instance, world, [body], parent_id=parent_id, author=author))[0]


async def set_post(instance, post_id: int, **values) -> None:
    async with db.transaction(instance.sessions) as session:
        await session.execute(update(Post).where(Post.id == post_id).values(**values))


async def get_post(instance, post_id: int) -> Post:
    async with instance.sessions() as session:
        return await session.get(Post, post_id)


def shown_ids(page_html: str, thread_id: int | None = None) -> list[int]:
    """Ids of the posts on a page, in document order (the opening post left out)."""
    return [int(i) for i in re.findall(r'<article class="(?:reply|post)[^"]*" id="p-(\d+)"', page_html)
            if int(i) != thread_id]


def article(page_html: str, post_id: int) -> str:
    """One post's own markup (its nested replies, in a tree, come after its closing tag)."""
    return re.search(rf'<article [^>]*id="p-{post_id}".*?</article>', page_html, re.S).group(0)


def link(page_html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page_html)
    return html.unescape(found.group(1)) if found else None


def csrf_from(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


async def log_in(client, name: str) -> None:
    """Through the real login form, as a person would."""
    page = await client.get("/login")
    response = await client.post("/login", data={"csrf_token": csrf_from(page.text), "username": name,
                                                 "password": PASSWORD, "next": "/"})
    assert response.status_code == 303, response.text


async def token_for(client, path: str) -> str:
    return csrf_from((await client.get(path)).text)


@contextlib.contextmanager
def statements(instance):
    """Every SQL statement the instance runs inside the block."""
    seen: list[tuple[str, object]] = []
    engine = instance.app.state.engine.sync_engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def assert_keyset_only(seen) -> None:
    reads = [(s, p) for s, p in seen if "from posts" in s.lower()]  # not the worker's queue polling
    assert reads
    for statement, parameters in reads:
        lowered = statement.lower()
        assert "count(" not in lowered, statement
        if re.search(r"\boffset\b", lowered):
            # SQLAlchemy's SQLite dialect always writes "LIMIT ? OFFSET ?"; it must be 0.
            assert statement.rstrip().endswith("OFFSET ?") and list(parameters)[-1] == 0, statement


class Nesting(HTMLParser):
    """How deep in the reply tree's lists each reply sits."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.depth_of: dict[int, int] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "ul" and ("replies" in (attrs.get("class") or "") or self.depth):
            self.depth += 1
        if tag == "article" and (attrs.get("id") or "").startswith("p-") and self.depth:
            self.depth_of[int(attrs["id"][2:])] = self.depth

    def handle_endtag(self, tag):
        if tag == "ul" and self.depth:
            self.depth -= 1


def nesting(page_html: str) -> dict[int, int]:
    parser = Nesting()
    parser.feed(page_html.split('id="replies-heading"', 1)[1])
    return parser.depth_of


# --- reading --------------------------------------------------------------------------------


async def test_a_long_thread_pages_by_keyset_every_reply_once_in_order(start_instance):
    async with start_instance(page_size=20) as instance:
        world = await seed(instance)
        ids = await add_replies(instance, world, [f"reply {n}" for n in range(60)])
        # Ties on the timestamp are ordered by id: give six replies the same moment.
        same = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc)
        for reply_id in ids[30:36]:
            await set_post(instance, reply_id, published_at=same)
        async with instance.sessions() as session:
            expected = list(await session.scalars(
                select(Post.id).where(Post.thread_id == world.thread_id, Post.id != world.thread_id)
                .order_by(Post.published_at, Post.id)))
        assert sorted(expected) == sorted(ids)

        seen_ids, pages = [], []
        async with instance.client() as client:
            with statements(instance) as seen:
                path = f"/p/{world.thread_id}"
                while path:
                    response = await client.get(path)
                    assert response.status_code == 200
                    page_ids = shown_ids(response.text, world.thread_id)
                    assert len(page_ids) <= 20
                    pages.append(response.text)
                    seen_ids += page_ids
                    path = link(response.text, "next")
            assert_keyset_only(seen)
            assert seen_ids == expected  # each exactly once, in reading order
            assert len(pages) == 3
            assert link(pages[0], "prev") is None  # nothing before the first page
            assert "60 replies" in pages[0]

            # And back again from the newest page.
            latest = await client.get(f"/p/{world.thread_id}?before=latest")
            back_ids = []
            path = f"/p/{world.thread_id}?before=latest"
            while path:
                response = await client.get(path)
                back_ids = shown_ids(response.text, world.thread_id) + back_ids
                path = link(response.text, "prev")
            assert back_ids == expected
            assert shown_ids(latest.text, world.thread_id) == expected[-20:]
            assert link(latest.text, "next") is None

            # A mangled cursor is just the first page, not an error.
            response = await client.get(f"/p/{world.thread_id}?after=nonsense")
            assert shown_ids(response.text, world.thread_id) == expected[:20]


async def test_replies_say_which_reply_they_answer(start_instance):
    async with start_instance(page_size=20) as instance:
        world = await seed(instance)
        first = await add_replies(instance, world, [f"early {n}" for n in range(25)])
        nested = await reply_to(instance, world, first[24], "answering the one just above", author="ada")
        far = await reply_to(instance, world, first[0], "answering the very first reply", author="ada")
        await add_replies(instance, world, [f"late {n}" for n in range(30)])  # > 50: paged, not a tree
        async with instance.client() as client:
            page1 = (await client.get(f"/p/{world.thread_id}")).text
            page2 = (await client.get(link(page1, "next"))).text
        assert f'id="p-{nested}"' in page2 and f'id="p-{first[24]}"' in page2
        # The reply it answers is on this page: an anchor. On another page: that reply's own page.
        assert f'replying to <a href="#p-{first[24]}">@bea</a>' in article(page2, nested)
        assert f'replying to <a href="/p/{first[0]}">@bea</a>' in article(page2, far)
        # Replies to the opening post don't say so: that's what a thread is.
        assert "replying to" not in article(page1, first[1])


async def test_a_small_thread_is_a_nested_conversation_with_capped_depth(instance):
    world = await seed(instance)
    chain = []
    parent = world.thread_id
    for n in range(7):
        parent = await reply_to(instance, world, parent, f"level {n + 1}", author="bea" if n % 2 else "ada")
        chain.append(parent)
    side = await reply_to(instance, world, world.thread_id, "a second answer to the thread")
    async with instance.client() as client:
        page = (await client.get(f"/p/{world.thread_id}")).text
    depth = nesting(page)
    assert [depth[i] for i in chain] == [1, 2, 3, 4, 4, 4, 4]  # capped at four levels
    assert depth[side] == 1
    assert shown_ids(page, world.thread_id) == [*chain, side]  # conversation order
    # Past the cap the nesting no longer shows who answers whom, the line does.
    assert f'replying to <a href="#p-{chain[4]}">@ada</a>' in article(page, chain[5])
    assert 'rel="next"' not in page


async def test_content_warnings_start_collapsed(instance):
    world = await seed(instance, title=None, body="The details of what happened.", content_warning="loss")
    reply = await add_replies(instance, world, ["ok"])
    async with db.transaction(instance.sessions) as session:
        bea = await world.person(session, "bea")
        await posting.reply(session, instance.settings, bea, await session.get(Post, reply[0]), body="hidden reply",
                            content_warning="self-harm")
    async with instance.client() as client:
        page = (await client.get(f"/p/{world.thread_id}")).text
        community = (await client.get("/c/hope")).text
    assert re.search(r'<details class="cw">\s*<summary><span class="cw-label">Content warning:</span> loss', page)
    assert re.search(r'<details class="cw">\s*<summary>.*?self-harm.*?</summary>\s*<div class="content" dir="auto"><p>hidden reply',
                     page, re.S)
    assert "<details class=\"cw\" open" not in page
    # The community's list of threads shows the warning, not the words behind it.
    assert "Content warning: loss" in community and "The details of what happened" not in community


@pytest.mark.parametrize("paged", [False, True])
async def test_gone_replies_leave_a_placeholder_only_when_answered(start_instance, paged):
    async with start_instance(page_size=60) as instance:
        world = await seed(instance)
        if paged:
            await add_replies(instance, world, [f"filler {n}" for n in range(51)])
        lonely, answered, held = await add_replies(instance, world, ["lonely", "answered", "held back"])
        answer = await reply_to(instance, world, answered, "an answer that stays", author="ada")
        async with db.transaction(instance.sessions) as session:
            for post_id in (lonely, answered):
                await posting.delete_post(session, await session.get(Post, post_id))
        await set_post(instance, held, state=HELD)
        async with instance.client() as client:
            page = (await client.get(f"/p/{world.thread_id}")).text
            ids = shown_ids(page, world.thread_id)
            assert lonely not in ids and held not in ids
            assert "lonely" not in page and "held back" not in page
            assert answered in ids and answer in ids
            assert page.count("This reply was deleted.") == 1
            assert f'replying to <a href="#p-{answered}">a reply that was deleted</a>' in article(page, answer)
            assert (await client.get(f"/p/{lonely}")).status_code == 404
            assert (await client.get(f"/p/{held}")).status_code == 404
            placeholder = await client.get(f"/p/{answered}")
            assert placeholder.status_code == 200
            assert "This reply was deleted." in placeholder.text and "an answer that stays" in placeholder.text


async def test_a_thread_whose_opening_post_was_deleted_keeps_its_replies(instance):
    world = await seed(instance)
    answer = await reply_to(instance, world, world.thread_id, "still worth reading")
    async with db.transaction(instance.sessions) as session:
        await posting.delete_post(session, await session.get(Post, world.thread_id))
    async with instance.client() as client:
        page = await client.get(f"/p/{world.thread_id}")
    assert page.status_code == 200
    assert "The opening post was deleted" in page.text and "It has been a long week" not in page.text
    assert shown_ids(page.text, world.thread_id) == [answer]


async def test_a_reply_page_shows_the_reply_in_its_thread(instance):
    world = await seed(instance)
    first = await reply_to(instance, world, world.thread_id, "first answer")
    second = await reply_to(instance, world, first, "answer to the answer", author="ada")
    third = await reply_to(instance, world, second, "deeper still")
    async with instance.client() as client:
        page = (await client.get(f"/p/{first}")).text
    assert f'<a href="/p/{world.thread_id}">Struggling today</a>' in page  # back to the thread
    assert '<a href="/c/hope">Hope</a>' in page
    assert "first answer" in page and "answer to the answer" in page
    assert "deeper still" not in page  # only its direct replies
    assert shown_ids(page) == [first, second]
    assert "1 reply to this" in page
    assert f'href="/p/{second}">1 reply to this</a>' in page
    assert f"/p/{world.thread_id}?after=" in page and f"#p-{first}" in page  # "See it in the whole thread"
    assert third


async def test_logged_out_people_read_everything_and_are_invited_to_log_in(instance):
    world = await seed(instance)
    reply = await reply_to(instance, world, world.thread_id, "hello")
    await set_post(instance, reply, like_count=2)
    async with instance.client() as client:
        page = (await client.get(f"/p/{world.thread_id}")).text
        new = await client.get("/c/hope/new")
        like = await client.post(f"/p/{reply}/like", data={"next": f"/p/{world.thread_id}"})
    assert '<form method="post"' not in page.split('<main', 1)[1]
    assert f'href="/login?next=/p/{world.thread_id}%23reply">Log in to reply</a>' in page
    assert "2 people said “I hear you”" in page
    assert new.status_code == 303 and new.headers["location"].startswith("/login?next=/c/hope/new")
    assert like.status_code == 303 and like.headers["location"].startswith("/login?next=")
    assert (await get_post(instance, reply)).like_count == 2


# --- writing --------------------------------------------------------------------------------


async def test_replying_to_a_thread_and_to_a_reply(instance):
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "bea")
        page = (await client.get(f"/p/{world.thread_id}")).text
        assert 'id="reply"' in page and 'action="/p/' in page
        response = await client.post(f"/p/{world.thread_id}/reply",
                                     data={"csrf_token": csrf_from(page), "body": "I'm here with you.",
                                           "content_warning": ""})
        assert response.status_code == 303
        location = response.headers["location"]
        reply_id = int(location.rsplit("#p-", 1)[1])
        assert location.startswith(f"/p/{world.thread_id}?after=")
        shown = (await client.get(location.split("#")[0])).text
        assert "I&#39;m here with you." in shown or "I'm here with you." in shown
        assert shown_ids(shown, world.thread_id)[0] == reply_id

        # The per-reply page has its own form.
        form_page = await client.get(f"/p/{reply_id}/reply")
        assert form_page.status_code == 200 and "Reply to bea" in form_page.text
        response = await client.post(f"/p/{reply_id}/reply",
                                     data={"csrf_token": csrf_from(form_page.text), "body": "Thank you, truly."})
        assert response.status_code == 303
        second = int(response.headers["location"].rsplit("#p-", 1)[1])
    nested = await get_post(instance, second)
    assert nested.parent_id == reply_id and nested.thread_id == world.thread_id
    assert (await get_post(instance, world.thread_id)).thread_reply_count == 2


async def test_a_form_without_the_right_token_changes_nothing_and_keeps_the_words(instance):
    world = await seed(instance)
    reply = await reply_to(instance, world, world.thread_id, "hello")
    async with instance.client() as client:
        await log_in(client, "bea")
        words = "Something I took a long time to write."
        response = await client.post(f"/p/{world.thread_id}/reply", data={"csrf_token": "forged", "body": words})
        assert response.status_code == 403
        assert words in response.text
        for path in (f"/p/{reply}/like", f"/p/{reply}/delete", "/c/hope/join"):
            assert (await client.post(path, data={"csrf_token": "forged"})).status_code == 403, path
        response = await client.post(f"/p/{reply}/edit", data={"csrf_token": "", "body": "changed"})
        assert response.status_code == 403
        response = await client.post("/c/hope/new", data={"body": "a new thread", "language": "en"})
        assert response.status_code == 403 and "a new thread" in response.text
    thread = await get_post(instance, world.thread_id)
    assert thread.thread_reply_count == 1
    post = await get_post(instance, reply)
    assert post.state == "published" and post.like_count == 0 and "hello" in post.content_html
    async with instance.sessions() as session:
        assert await session.scalar(select(Follow.id)) is None
        assert await session.scalar(select(Community.thread_count)) == 1


async def test_a_problem_with_a_reply_is_shown_by_the_form_with_the_words_kept(instance):
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "bea")
        token = await token_for(client, f"/p/{world.thread_id}")
        long_text = "I keep thinking about it. " * 1000  # over the 20,000 character limit
        response = await client.post(f"/p/{world.thread_id}/reply", data={"csrf_token": token, "body": long_text})
        assert response.status_code == 400
        assert "at most 20000 characters" in response.text
        assert html.escape(long_text.strip(), quote=False)[:200] in response.text
        assert 'aria-invalid="true"' in response.text and 'id="error-summary"' in response.text
        empty = await client.post(f"/p/{world.thread_id}/reply", data={"csrf_token": token, "body": "   ",
                                                                       "content_warning": "kept warning"})
        assert empty.status_code == 400 and "Write something first" in empty.text
        assert 'value="kept warning"' in empty.text
    assert (await get_post(instance, world.thread_id)).thread_reply_count == 0


async def test_a_locked_thread_offers_a_calm_notice_instead_of_a_form(instance):
    world = await seed(instance)
    reply = await reply_to(instance, world, world.thread_id, "before the lock")
    async with instance.client() as client:
        await log_in(client, "bea")
        token = await token_for(client, f"/p/{world.thread_id}")
        await set_post(instance, world.thread_id, locked=True)
        page = (await client.get(f"/p/{world.thread_id}")).text
        assert "closed to new replies" in page and 'name="body"' not in page
        assert "before the lock" in page
        response = await client.post(f"/p/{reply}/reply", data={"csrf_token": token, "body": "Words I wrote before it closed"})
        assert response.status_code == 400
        assert "closed to new replies" in response.text and "Words I wrote before it closed" in response.text
    assert (await get_post(instance, world.thread_id)).thread_reply_count == 1


async def test_saying_i_hear_you_and_taking_it_back(instance):
    world = await seed(instance)
    reply = await reply_to(instance, world, world.thread_id, "it was a hard day", author="ada")
    async with instance.client() as client:
        await log_in(client, "bea")
        here = f"/p/{world.thread_id}"
        page = (await client.get(here)).text
        assert re.search(rf'action="/p/{reply}/like">.*?aria-pressed="false">I hear you \(0\)</button>', page, re.S)
        response = await client.post(f"/p/{reply}/like", data={"csrf_token": csrf_from(page), "next": here})
        assert response.status_code == 303 and response.headers["location"] == f"{here}#p-{reply}"
        assert (await get_post(instance, reply)).like_count == 1
        page = (await client.get(here)).text
        assert re.search(rf'action="/p/{reply}/unlike">.*?aria-pressed="true">I hear you \(1\)</button>', page, re.S)
        # Twice is still once.
        await client.post(f"/p/{reply}/like", data={"csrf_token": csrf_from(page), "next": here})
        assert (await get_post(instance, reply)).like_count == 1
        response = await client.post(f"/p/{reply}/unlike", data={"csrf_token": csrf_from(page),
                                                                 "next": "https://elsewhere.example/"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/p/")  # never off-site
        assert (await get_post(instance, reply)).like_count == 0


async def test_editing_and_deleting_your_own_post(instance):
    world = await seed(instance)
    reply = await reply_to(instance, world, world.thread_id, "first words", author="bea")
    kept = await reply_to(instance, world, world.thread_id, "someone else's words", author="ada")
    async with instance.client() as client:
        await log_in(client, "bea")
        page = (await client.get(f"/p/{world.thread_id}")).text
        assert f'href="/p/{reply}/edit"' in page and f'href="/p/{kept}/edit"' not in page
        assert (await client.get(f"/p/{kept}/edit")).status_code == 403
        assert (await client.get(f"/p/{world.thread_id}/delete")).status_code == 403

        form = await client.get(f"/p/{reply}/edit")
        assert form.status_code == 200 and "first words" in form.text
        response = await client.post(f"/p/{reply}/edit", data={"csrf_token": csrf_from(form.text),
                                                               "body": "better words", "content_warning": "grief"})
        assert response.status_code == 303
        post = await get_post(instance, reply)
        assert "better words" in post.content_html and post.content_warning == "grief"
        assert " · edited" in (await client.get(f"/p/{reply}")).text

        bad = await client.post(f"/p/{reply}/edit", data={"csrf_token": csrf_from(form.text), "body": ""})
        assert bad.status_code == 400 and "Write something first" in bad.text

        confirm = await client.get(f"/p/{reply}/delete")
        assert confirm.status_code == 200 and "Delete your reply?" in confirm.text and "better words" in confirm.text
        response = await client.post(f"/p/{reply}/delete", data={"csrf_token": csrf_from(confirm.text)})
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/p/{world.thread_id}")
        page = (await client.get(response.headers["location"])).text
        assert "better words" not in page and "someone else" in page
    assert (await get_post(instance, reply)).state == DELETED
    assert (await get_post(instance, world.thread_id)).thread_reply_count == 1


async def test_deleting_a_thread_goes_back_to_the_community(instance):
    world = await seed(instance)
    async with instance.client() as client:
        await log_in(client, "ada")
        confirm = await client.get(f"/p/{world.thread_id}/delete")
        assert "Delete your thread?" in confirm.text
        response = await client.post(f"/p/{world.thread_id}/delete", data={"csrf_token": csrf_from(confirm.text)})
        assert response.status_code == 303 and response.headers["location"] == "/c/hope?deleted=1"
        assert "Your thread was deleted." in (await client.get("/c/hope?deleted=1")).text
        assert (await client.get(f"/p/{world.thread_id}")).status_code == 404


async def test_joining_leaving_and_starting_a_thread(instance):
    await seed(instance, languages="en ar")
    async with instance.client() as client:
        await log_in(client, "bea")
        page = (await client.get("/c/hope")).text
        assert "Join this community" in page and 'href="/c/hope/new">Start a thread</a>' in page
        response = await client.post("/c/hope/join", data={"csrf_token": csrf_from(page)})
        assert response.status_code == 303
        page = (await client.get(response.headers["location"])).text
        assert "You've joined Hope" in page and "Leave this community" in page
        async with instance.sessions() as session:
            assert await session.scalar(select(Community.member_count)) == 1
        response = await client.post("/c/hope/leave", data={"csrf_token": csrf_from(page)})
        assert response.status_code == 303
        assert "You've left Hope" in (await client.get(response.headers["location"])).text
        async with instance.sessions() as session:
            assert await session.scalar(select(Community.member_count)) == 0

        form = await client.get("/c/hope/new")
        assert form.status_code == 200
        chooser = re.search(r'<select id="language".*?</select>', form.text, re.S).group(0)
        offered = re.findall(r'<option value="([^"]+)"', chooser)
        assert offered[:2] == ["en", "ar"] and {"es", "hi"} <= set(offered[2:])  # the community's first
        assert 'lang="ar"' in form.text and "العربية" in form.text
        bad = await client.post("/c/hope/new", data={"csrf_token": csrf_from(form.text), "title": "Tonight",
                                                     "body": "Words worth keeping", "language": "xx"})
        assert bad.status_code == 400 and "choose a language" in bad.text and "Words worth keeping" in bad.text
        response = await client.post("/c/hope/new", data={
            "csrf_token": csrf_from(form.text), "title": "Tonight", "body": "I can't sleep again.",
            "language": "ar", "content_warning": "insomnia"})
        assert response.status_code == 303
        thread_id = int(response.headers["location"].rsplit("/", 1)[1])
        page = (await client.get(f"/p/{thread_id}")).text
        assert '<h1 dir="auto">Tonight</h1>' in page and 'lang="ar"' in page
        assert re.search(r'<details class="cw">\s*<summary><span class="cw-label">Content warning:</span> insomnia', page)
    thread = await get_post(instance, thread_id)
    assert thread.language == "ar" and thread.is_thread


async def test_asking_to_join_a_community_that_approves_members(instance):
    await seed(instance)
    async with db.transaction(instance.sessions) as session:
        await accounts.create_community(session, instance.settings, "quiet", "Quiet room", requires_approval=True)
    async with instance.client() as client:
        await log_in(client, "bea")
        page = (await client.get("/c/quiet")).text
        assert "Ask to join" in page
        response = await client.post("/c/quiet/join", data={"csrf_token": csrf_from(page)})
        page = (await client.get(response.headers["location"])).text
        assert "A moderator will look at your request soon" in page and "Withdraw my request" in page
