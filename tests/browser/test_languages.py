"""Each of the four languages in a real browser (JavaScript off): text, <html lang dir>, and for
Arabic a layout that is really mirrored."""
from __future__ import annotations

import pytest

from fedisupport import db
from fedisupport.domain import accounts, posting

# What each language must show, page by page (from the catalogues; English is the source).
EXPECTED = {
    "en": {"home": "Communities", "community": "Start a thread", "thread": "Write a reply",
           "signup": "Choose a name", "help": "Talk to someone now", "dir": "ltr"},
    "es": {"home": "Comunidades", "community": "Empezar un hilo", "thread": "Escribir una respuesta",
           "signup": "Elige un nombre", "help": "Habla con alguien ahora", "dir": "ltr"},
    "hi": {"home": "समुदाय", "community": "चर्चा शुरू करें", "thread": "जवाब लिखें",
           "signup": "एक नाम चुनें", "help": "अभी किसी से बात करें", "dir": "ltr"},
    "ar": {"home": "المجتمعات", "community": "ابدأ نقاشًا", "thread": "اكتب ردًّا",
           "signup": "اختر اسمًا", "help": "تحدّث إلى أحد الآن", "dir": "rtl"},
}


async def _seed(instance) -> int:
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, instance.settings, "ada", "a long enough password")
        author = await session.get(accounts.Actor, user.actor_id)
        community = await accounts.create_community(session, instance.settings, "hope", "Hope")
        thread = await posting.start_thread(session, instance.settings, author, community,
                                            title="Struggling today", body="It has been a long week.")
        return thread.id


@pytest.mark.parametrize("code", list(EXPECTED))
async def test_every_language_in_the_browser(instance, browser, code):
    thread_id = await _seed(instance)
    context = await browser.new_context(java_script_enabled=False, locale=code,
                                        extra_http_headers={"Accept-Language": code})
    page = await context.new_page()
    expected = EXPECTED[code]
    try:
        for key, path in (("home", "/"), ("community", "/c/hope"), ("thread", f"/p/{thread_id}"),
                          ("signup", "/signup"), ("help", "/help")):
            await page.goto(instance.base_url + path)
            assert await page.get_attribute("html", "lang") == code, path
            assert await page.get_attribute("html", "dir") == expected["dir"], path
            assert expected[key] in await page.inner_text("body"), (code, path)
            # What people wrote keeps its own direction.
            if key == "thread":
                assert await page.get_attribute("article.opening .content", "dir") == "auto"
        await page.goto(instance.base_url + "/")
        brand = await page.locator(".brand").bounding_box()
        width = await page.evaluate("document.documentElement.clientWidth")
        middle = brand["x"] + brand["width"] / 2
        if expected["dir"] == "rtl":
            assert middle > width / 2, "in Arabic the site's name sits at the right"
        else:
            assert middle < width / 2, "left-to-right: the site's name sits at the left"
    finally:
        await context.close()


async def test_the_switcher_changes_the_language_without_javascript(instance, page):
    await _seed(instance)
    await page.goto(instance.base_url + "/c/hope")
    assert await page.get_attribute("html", "lang") == "en"
    await page.get_by_label("Language").select_option("ar")
    await page.get_by_role("button", name="Change").click()
    await page.wait_for_url("**/c/hope")
    assert await page.get_attribute("html", "dir") == "rtl"
    assert "ابدأ نقاشًا" in await page.inner_text("main")
    # And back, with the switcher's Arabic label.
    await page.get_by_label("اللغة").select_option("en")
    await page.get_by_role("button", name="تغيير").click()
    await page.wait_for_url("**/c/hope")
    assert await page.get_attribute("html", "lang") == "en"
