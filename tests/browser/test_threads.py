"""Someone new signs up, joins a community, writes, replies, says "I hear you" and reads a long
thread, by keyboard where a person would and with JavaScript off."""
from __future__ import annotations

import re

from fedisupport import db
from fedisupport.domain import accounts, posting
from fedisupport.models import Post

PASSWORD = "a long enough password"


async def press_on(page, locator, key: str = "Enter") -> None:
    """Move keyboard focus to a control and press a key on it, as someone tabbing through would."""
    await locator.focus()
    assert await locator.evaluate("el => el === document.activeElement")
    await page.keyboard.press(key)


async def test_joining_writing_replying_and_reading_a_long_thread(instance, page, tmp_path):
    settings = instance.settings
    long_replies = 2 * settings.page_size + 5
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, settings, "ada", PASSWORD)
        ada = await session.get(accounts.Actor, user.actor_id)
        community = await accounts.create_community(session, settings, "hope", "Hope", languages="en es")
        long_thread = await posting.start_thread(session, settings, ada, community, title="Long night",
                                                 body="Anyone else awake?")
        first_reply = await posting.reply(session, settings, ada, long_thread, body="reply number 0")
        for n in range(1, long_replies):
            await posting.reply(session, settings, ada, long_thread, body=f"reply number {n}")
    base = instance.base_url

    # Sign up with the keyboard.
    await page.goto(base + "/signup")
    await page.get_by_label("Choose a name").focus()
    await page.keyboard.type("sol")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/signup?welcome=1")

    # Join the community.
    await page.goto(base + "/c/hope")
    await press_on(page, page.get_by_role("button", name="Join this community"))
    await page.wait_for_url("**/c/hope?joined=1")
    assert "You've joined Hope" in await page.inner_text("main")
    assert await page.get_by_role("button", name="Leave this community").is_visible()

    # Start a thread, with a content warning.
    await press_on(page, page.get_by_role("link", name="Start a thread"))
    await page.wait_for_url("**/c/hope/new")
    assert await page.get_by_role("heading", level=1).inner_text() == "Start a thread in Hope"
    await page.get_by_label("Title (optional)").focus()
    await page.keyboard.type("First time posting")
    await page.keyboard.press("Tab")
    await page.keyboard.type("I'm not sure how to start.\n\nBut here I am.")
    assert await page.get_by_label("Language of your post").input_value() == "en"
    await press_on(page, page.locator(".cw-field summary"), " ")
    await page.get_by_label("Content warning").focus()
    await page.keyboard.type("anxiety")
    await press_on(page, page.get_by_role("button", name="Post thread"))
    await page.wait_for_url(re.compile(r".*/p/\d+$"))
    assert await page.get_by_role("heading", level=1).inner_text() == "First time posting"
    warning = page.locator("details.cw")
    assert await warning.get_attribute("open") is None  # collapsed until the reader opens it
    assert not await page.get_by_text("But here I am.").is_visible()
    await press_on(page, page.locator("details.cw summary"), " ")
    assert await page.get_by_text("But here I am.").is_visible()

    # Reply to it.
    await page.get_by_label("Your reply").focus()
    await page.keyboard.type("Writing it down is a start. Welcome.")
    await press_on(page, page.get_by_role("button", name="Post reply"))
    await page.wait_for_url(re.compile(r".*#p-\d+$"))
    reply_id = page.url.rsplit("#p-", 1)[1]
    assert "Writing it down is a start." in await page.inner_text(f"#p-{reply_id}")

    # Say "I hear you" to a reply in the long thread.
    await page.goto(f"{base}/p/{long_thread.id}")
    hear = page.locator(f"#p-{first_reply.id}").get_by_role("button", name="I hear you (0)")
    await press_on(page, hear)
    await page.wait_for_url(f"**/p/{long_thread.id}#p-{first_reply.id}")
    pressed = page.locator(f"#p-{first_reply.id}").get_by_role("button", name="I hear you (1)")
    assert await pressed.get_attribute("aria-pressed") == "true"
    async with instance.sessions() as session:
        assert (await session.get(Post, first_reply.id)).like_count == 1

    # Page through the long thread with the keyboard: every reply once, in order.
    seen: list[str] = []
    while True:
        bodies = await page.locator("ol.replies > li article .content").all_inner_texts()
        assert 0 < len(bodies) <= settings.page_size
        seen += [b.strip() for b in bodies]
        newer = page.get_by_role("link", name="Newer replies")
        if not await newer.count():
            break
        href = await newer.get_attribute("href")
        await press_on(page, newer)
        await page.wait_for_url(base + href)
    assert seen == [f"reply number {n}" for n in range(long_replies)]
    earlier = page.get_by_role("link", name="Earlier replies").first
    href = await earlier.get_attribute("href")
    await press_on(page, earlier)
    await page.wait_for_url(base + href)
    assert (await page.locator("ol.replies > li article .content").all_inner_texts())[0].strip() == (
        f"reply number {settings.page_size}")
    await page.screenshot(path=str(tmp_path / "thread.png"), full_page=True)
