"""A member translates a thread's opening post with the keyboard, JavaScript off; a Spanish
reader then sees the translation with the way back to the original, and the community's
language filter finds the thread."""
from __future__ import annotations

from fedisupport import db
from fedisupport.domain import accounts, following, posting
from fedisupport.models import Actor

PASSWORD = "a long enough password"


async def test_a_member_adds_a_translation_and_a_spanish_reader_sees_it(instance, browser, page):
    settings = instance.settings
    async with db.transaction(instance.sessions) as session:
        ada = await session.get(Actor, (await accounts.create_user(session, settings, "ada", PASSWORD)).actor_id)
        sol = await session.get(Actor, (await accounts.create_user(session, settings, "sol", PASSWORD)).actor_id)
        community = await accounts.create_community(session, settings, "hope", "Hope", languages="en es")
        await following.follow(session, settings, sol, await session.get(Actor, community.actor_id))
        thread = await posting.start_thread(session, settings, ada, community, title="Long night",
                                            body="Anyone else awake?", language="en")
    base = instance.base_url

    await page.goto(f"{base}/login?next=/p/{thread.id}")
    await page.locator("#username").focus()
    await page.keyboard.type("sol")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/p/{thread.id}")
    link = page.get_by_role("link", name="Translate this post")
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/p/{thread.id}/translate")
    assert await page.get_by_role("heading", level=1).inner_text() == "Translate this post"
    await page.get_by_label("Language of your translation").select_option("es")
    await page.get_by_label("Title, translated").focus()
    await page.keyboard.type("Noche larga")
    await page.get_by_label("The post, translated").focus()
    await page.keyboard.type("¿Alguien más despierto?")
    await page.get_by_role("button", name="Add translation").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/p/{thread.id}?show=es*")
    assert await page.get_by_role("heading", level=1).inner_text() == "Noche larga"
    assert await page.locator(f"#p-{thread.id}").get_attribute("lang") == "es"

    # A reader whose browser asks for Spanish, signed out.
    reader = await browser.new_context(java_script_enabled=False, locale="es-ES",
                                       extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"})
    spanish = await reader.new_page()
    try:
        await spanish.goto(f"{base}/p/{thread.id}")
        assert await spanish.get_by_role("heading", level=1).inner_text() == "Noche larga"
        assert "¿Alguien más despierto?" in await spanish.locator(f"#p-{thread.id} .content").inner_text()
        note = spanish.locator(".translation-note")
        assert await note.is_visible()
        await note.get_by_role("link").click()
        assert await spanish.get_by_role("heading", level=1).inner_text() == "Long night"
        # The community page's language filter is a plain form: choose and submit.
        await spanish.goto(f"{base}/c/hope")
        await spanish.locator("#thread-lang").select_option("en")
        await spanish.locator("form.language-filter button").click()
        await spanish.wait_for_url("**/c/hope?lang=en")
        assert await spanish.get_by_role("link", name="Long night").is_visible()
    finally:
        await reader.close()
