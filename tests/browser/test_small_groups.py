"""A smaller group in a real browser, by keyboard and with JavaScript off.

alice starts a group from her thread and invites bob, who answered it; bob accepts on his
Invitations page, reads alice's members-only thread and replies. Someone signed out gets a 404
for the thread and never sees it listed.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts, actions, following
from fedisupport.models import Actor, Community, Post
from fedisupport.models.content import MEMBERS
from tests.browser.test_threads import press_on

PASSWORD = "a long enough password"
SECRET_TITLE = "Members-only: the long weekend"
SECRET_BODY = "Just between us: weekends are the hardest part."


async def log_in_by_keyboard(page, base: str, name: str, next_path: str) -> None:
    await page.goto(f"{base}/login?next={next_path}")
    await page.locator("#username").focus()
    await page.keyboard.type(name)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**{next_path}")


async def test_starting_a_small_group_inviting_and_talking_in_it_by_keyboard(instance, browser, page, tmp_path):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        people = {}
        for name in ("alice", "bob", "carol"):
            people[name] = await session.get(Actor, (await accounts.create_user(session, settings, name, PASSWORD)).actor_id)
        hope = await accounts.create_community(session, settings, "hope", "Hope", languages="en")
        for person in people.values():
            await following.follow(session, settings, person, await session.get(Actor, hope.actor_id))
        thread = await actions.write_thread(session, settings, people["alice"], hope, title="Nights are hard",
                                            body="Who else is awake at 3am?")
        await actions.write_reply(session, settings, people["bob"], thread, body="Me, most nights.")
        await actions.write_reply(session, settings, people["carol"], thread, body="Sometimes.")
    base = instance.base_url

    # alice starts a smaller group from her thread.
    await log_in_by_keyboard(page, base, "alice", f"/p/{thread.id}")
    await press_on(page, page.get_by_role("link", name="Start a smaller group from this thread"))
    await page.wait_for_url(f"**/p/{thread.id}/small-group")
    await page.get_by_label("Name").focus()
    await page.keyboard.type("Night owls")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "description"
    await page.keyboard.type("For the small hours.")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "rules"
    await page.keyboard.type("What is said here stays here.")
    await press_on(page, page.get_by_role("button", name="Start the group"))
    await page.wait_for_url(re.compile(r".*/c/[a-z0-9_]+/invite\?started=1$"))
    name = re.search(r"/c/([a-z0-9_]+)/invite", page.url).group(1)
    assert "Your group is ready." in await page.inner_text("main")

    # She invites bob, who took part in the thread (with the space bar, then Enter on the button).
    bob_box = page.get_by_role("checkbox", name=re.compile(r"^bob\b"))
    await press_on(page, bob_box, " ")
    assert await bob_box.is_checked()
    assert not await page.get_by_role("checkbox", name=re.compile(r"^carol\b")).is_checked()
    await press_on(page, page.get_by_role("button", name="Send invitations"))
    await page.wait_for_url(f"**/c/{name}/invite?sent=1")
    assert "Invitations sent: 1." in await page.inner_text("main")

    # And opens the group's first thread, members-only.
    await page.goto(f"{base}/c/{name}")
    await press_on(page, page.get_by_role("link", name="Start a thread"))
    await page.wait_for_url(f"**/c/{name}/new")
    await page.get_by_label("Title (optional)").focus()
    await page.keyboard.type(SECRET_TITLE)
    await page.keyboard.press("Tab")
    await page.keyboard.type(SECRET_BODY)
    await press_on(page, page.get_by_role("button", name="Post thread"))
    await page.wait_for_url(re.compile(r".*/p/\d+$"))
    secret_id = int(page.url.rsplit("/", 1)[1])
    async with instance.sessions() as session:
        assert (await session.get(Post, secret_id)).visibility == MEMBERS

    # bob signs in, accepts on his Invitations page, and lands in the group.
    bobs = await browser.new_context(java_script_enabled=False)
    try:
        bob = await bobs.new_page()
        await log_in_by_keyboard(bob, base, "bob", "/invitations")
        assert "alice invited you to this smaller group." in await bob.inner_text("main")
        await press_on(bob, bob.get_by_role("button", name="Join Night owls"))
        await bob.wait_for_url(f"**/c/{name}?joined=1")
        assert "You've joined Night owls" in await bob.inner_text("main")

        # He reads alice's members-only thread and replies.
        await press_on(bob, bob.get_by_role("link", name=SECRET_TITLE))
        await bob.wait_for_url(f"**/p/{secret_id}")
        assert SECRET_BODY in await bob.inner_text("main")
        await bob.get_by_label("Your reply").focus()
        await bob.keyboard.type("Same here. Glad this room exists.")
        await press_on(bob, bob.get_by_role("button", name="Post reply"))
        await bob.wait_for_url(re.compile(r".*#p-\d+$"))
        reply_id = int(bob.url.rsplit("#p-", 1)[1])
        assert "Glad this room exists." in await bob.inner_text(f"#p-{reply_id}")
        await bob.screenshot(path=str(tmp_path / "small-group-thread.png"), full_page=True)
    finally:
        await bobs.close()
    async with instance.sessions() as session:
        reply = await session.get(Post, reply_id)
        assert reply.thread_id == secret_id and reply.visibility == MEMBERS
        assert (await session.scalar(select(Community).where(Community.name == name))).members_only

    # Someone signed out: a 404 for the thread and its reply, and the thread listed nowhere.
    visitors = await browser.new_context(java_script_enabled=False)
    try:
        visitor = await visitors.new_page()
        for path in (f"/p/{secret_id}", f"/p/{reply_id}"):
            response = await visitor.goto(base + path)
            assert response.status == 404, path
            assert SECRET_BODY not in await visitor.content()
        for path in (f"/c/{name}", "/c/hope", "/"):
            response = await visitor.goto(base + path)
            assert response.status == 200, path
            text = await visitor.content()
            assert SECRET_TITLE not in text and "Glad this room exists." not in text, path
        assert "Night owls" not in await visitor.content()  # the home page lists no small group
    finally:
        await visitors.close()
