"""A newcomer finds a community and reads its first thread, with the keyboard and no JavaScript."""
from __future__ import annotations

from urllib.parse import urlparse

from fedisupport import db
from fedisupport.domain import accounts, posting


async def test_reading_a_thread_by_keyboard_without_javascript(instance, page, tmp_path):
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, instance.settings, "ada", "a long enough password")
        author = await session.get(accounts.Actor, user.actor_id)
        community = await accounts.create_community(session, instance.settings, "hope", "Hope")
        await posting.start_thread(session, instance.settings, author, community,
                                   title="Struggling today? So am I.", body="Reply here, we'll listen.")
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))

    await page.goto(instance.base_url + "/")
    assert await page.get_attribute("html", "lang") == "en"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"

    await page.get_by_role("link", name="Hope").click()
    await page.wait_for_url("**/c/hope")
    await page.get_by_role("link", name="Struggling today? So am I.").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/p/*")
    assert "Reply here, we'll listen." in await page.inner_text("main")

    await page.get_by_role("link", name="Get help now").click()
    await page.wait_for_url("**/help")
    assert await page.get_by_role("heading", name="Get help now").is_visible()
    await page.screenshot(path=str(tmp_path / "help.png"))
    # Fonts, styles and images all come from the instance itself.
    assert hosts == {instance.settings.domain}
