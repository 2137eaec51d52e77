"""A moderator works the queue by keyboard, with JavaScript off: opens a held reply, approves it,
opens a reported one and removes it with a reason; the modlog shows the reason."""
from __future__ import annotations

from fedisupport import db
from fedisupport.domain import accounts, posting, reports
from fedisupport.models import Actor, HeldItem, Post

PASSWORD = "a long enough password"


async def press_on(page, locator, key: str = "Enter") -> None:
    """Move keyboard focus to a control and press a key on it, as someone tabbing through would."""
    await locator.focus()
    assert await locator.evaluate("el => el === document.activeElement")
    await page.keyboard.press(key)


async def test_a_moderator_works_the_queue_by_keyboard(instance, page, tmp_path):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        users = {name: await accounts.create_user(session, settings, name, PASSWORD) for name in ("mo", "bea", "cy")}
        people = {name: await session.get(Actor, user.actor_id) for name, user in users.items()}
        hope = await accounts.create_community(session, settings, "hope", "Hope")
        await accounts.make_moderator(session, settings, "hope", "mo")
        thread = await posting.start_thread(session, settings, people["bea"], hope, title="Night shift",
                                            body="Who else is up?")
        held = await posting.reply(session, settings, people["cy"], thread, body="Me, counting the hours.")
        await posting.hold(session, held)
        session.add(HeldItem(kind="post", post_id=held.id, community_id=hope.id, reason="A first post here"))
        reported = await posting.reply(session, settings, people["cy"], thread, body="Text me on 555-0100.")
        await reports.create_report(session, reporter=people["bea"], post=reported, reason="Phone number",
                                       category="rule")
    base = instance.base_url

    # Log in with the keyboard.
    await page.goto(base + "/login?next=/mod")
    await page.locator("#username").focus()
    await page.keyboard.type("mo")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(base + "/mod")  # exactly: the login page's own URL ends in /mod too
    assert await page.get_by_role("heading", level=1).inner_text() == "Moderation queue"

    # The held reply's words are hidden until the moderator opens them.
    item = page.locator("article[id^=held-]")
    hidden = item.get_by_text("Me, counting the hours.")
    assert not await hidden.is_visible()
    await press_on(page, item.locator("details.reveal summary"), " ")
    assert await hidden.is_visible()
    await page.screenshot(path=str(tmp_path / "queue-revealed.png"), full_page=True)
    await press_on(page, item.get_by_role("button", name="Approve and publish"))
    await page.wait_for_url("**/mod?done=approved")
    assert "Approved: it is published now." in await page.get_by_role("status").inner_text()

    # The reported reply: open it, give a reason, remove it.
    report = page.locator("article[id^=report-]")
    words = report.get_by_text("Text me on 555-0100.")
    assert not await words.is_visible()
    await press_on(page, report.locator("details.reveal summary"), "Enter")
    assert await words.is_visible()
    await report.get_by_label("Reason for removing the post").focus()
    await page.keyboard.type("Please keep phone numbers private")
    await press_on(page, report.get_by_role("button", name="Remove the post"))
    await page.wait_for_url("**/mod?done=removed")
    await report.get_by_label("What was done").focus()
    await page.keyboard.type("Removed; messaged cy")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/mod?done=resolved")
    assert "Nothing is waiting right now" in await page.inner_text("main")

    async with instance.sessions() as session:
        assert (await session.get(Post, held.id)).state == "published"
        assert (await session.get(Post, reported.id)).state == "removed"

    # The public modlog tells what happened and why, and nothing of the words removed.
    await press_on(page, page.get_by_role("link", name="Modlog"))
    await page.wait_for_url("**/modlog")
    log = await page.inner_text("main")
    assert "Please keep phone numbers private" in log and "555-0100" not in log
    assert "Approved a reply in “Night shift” by @cy" in " ".join(log.split())
    await page.screenshot(path=str(tmp_path / "modlog.png"), full_page=True)
