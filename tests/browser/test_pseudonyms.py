"""Writing under a pseudonym by keyboard alone, JavaScript off: tick the box, name it, post, edit."""
from __future__ import annotations

import re

from sqlalchemy import select

from fedisupport import db
from fedisupport.domain import accounts, actions, following
from fedisupport.models import Actor, Post, Pseudonym
from tests.browser.test_threads import press_on

PASSWORD = "a long enough password"


async def test_posting_and_editing_under_a_pseudonym_by_keyboard(instance, page, tmp_path):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        rowan = await session.get(Actor, (await accounts.create_user(session, settings, "rowan", PASSWORD,
                                                                     display_name="Rowan Realperson")).actor_id)
        bea = await session.get(Actor, (await accounts.create_user(session, settings, "bea", PASSWORD)).actor_id)
        hope = await accounts.create_community(session, settings, "hope", "Hope", languages="en")
        hope.allow_pseudonyms = True
        await following.follow(session, settings, rowan, await session.get(Actor, hope.actor_id))
        thread = await actions.write_thread(session, settings, bea, hope, title="Struggling today",
                                            body="It has been a long week.")
    base = instance.base_url

    # Log in with the keyboard.
    await page.goto(f"{base}/login?next=/p/{thread.id}")
    await page.locator("#username").focus()
    await page.keyboard.type("rowan")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/p/{thread.id}")

    # Write, tick the box with the space bar, name the pseudonym, post with Enter.
    await page.get_by_label("Your reply").focus()
    await page.keyboard.type("Me too. Reading this helps.")
    box = page.get_by_label("Post under my pseudonym in this community")
    assert not await box.is_checked()
    await press_on(page, box, " ")
    assert await box.is_checked()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "pseudonym_name"
    await page.keyboard.type("Lantern Keeper")
    await press_on(page, page.get_by_role("button", name="Post reply"))
    await page.wait_for_url(re.compile(r".*#p-\d+$"))
    reply_id = int(page.url.rsplit("#p-", 1)[1])
    mine = page.locator(f"#p-{reply_id}")
    text = await mine.inner_text()
    assert "Lantern Keeper" in text and "Posted under your pseudonym" in text and "Rowan" not in text
    async with instance.sessions() as session:
        post = await session.get(Post, reply_id)
        link = await session.scalar(select(Pseudonym).where(Pseudonym.actor_id == post.author_id))
        assert link is not None and post.author_id != rowan.id
    # The form now says which pseudonym it is, and the box starts unticked again.
    hint = await page.locator("#pseudonym-hint").inner_text()
    assert "Your pseudonym here is Lantern Keeper" in hint
    assert not await page.get_by_label("Post under my pseudonym in this community").is_checked()
    await page.screenshot(path=str(tmp_path / "pseudonymous-reply.png"), full_page=True)

    # Edit it by keyboard: only its real author has the link.
    await press_on(page, mine.get_by_role("link", name="Edit your post"))
    await page.wait_for_url(f"**/p/{reply_id}/edit")
    body = page.get_by_label("Your words")
    await body.focus()
    await page.keyboard.press("Control+a")
    await page.keyboard.type("Me too. Reading this helps, truly.")
    await press_on(page, page.get_by_role("button", name=re.compile("Save", re.I)))
    await page.wait_for_url(re.compile(rf".*#p-{reply_id}$"))
    assert "truly" in await page.locator(f"#p-{reply_id}").inner_text()

    # Start a thread under it too.
    await page.goto(f"{base}/c/hope/new")
    await page.get_by_label("Title (optional)").focus()
    await page.keyboard.type("Nights are hard")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Does anyone else lie awake?")
    await press_on(page, page.get_by_label("Post under my pseudonym in this community"), " ")
    await press_on(page, page.get_by_role("button", name="Post thread"))
    await page.wait_for_url(re.compile(r".*/p/\d+$"))
    assert "by Lantern Keeper" in await page.locator("article.opening .meta").first.inner_text()
