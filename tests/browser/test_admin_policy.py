"""An admin limits a server and adds a keyword rule: keyboard only, no JavaScript."""
from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from fedisupport.models import DomainPolicy, KeywordRule
from tests.browser.test_signup import focused_label
from tests.web.test_accounts import PASSWORD, make_user


async def focused(page, expression: str):
    return await page.evaluate(f"(() => {{ const el = document.activeElement; return {expression}; }})()")


async def log_in_by_keyboard(page, base_url: str, name: str) -> None:
    await page.goto(base_url + "/login?next=/admin")
    await page.get_by_label("Your name").focus()
    await page.keyboard.type(name)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def test_limit_a_server_and_hold_a_phrase_by_keyboard(instance, page, tmp_path):
    await make_user(instance, "root_admin", admin=True)
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    await log_in_by_keyboard(page, instance.base_url, "root_admin")
    await page.wait_for_url("**/admin")

    nav = page.get_by_role("navigation", name="Admin")
    await nav.get_by_role("link", name="Other servers").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await page.get_by_role("heading", name="Other servers", level=1).is_visible()

    # A mistake first: the summary takes focus and the field says what's wrong.
    await page.get_by_label("Server's domain").focus()
    await page.keyboard.type("https://")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await focused(page, "el.id") == "error-summary"
    domain = page.get_by_label("Server's domain")
    assert await domain.get_attribute("aria-invalid") == "true"
    described = (await domain.get_attribute("aria-describedby")).split()
    assert "domain-error" in described
    assert "Please enter a domain name" in await page.inner_text("#domain-error")
    await page.keyboard.press("Tab")  # from the summary to its first link, which leads to the field
    assert await focused(page, "el.getAttribute('href')") == "#domain"
    await page.screenshot(path=str(tmp_path / "domains-mistake.png"), full_page=True)

    # Now properly: the domain, then "Limit" among the radio buttons by arrow key.
    await domain.focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("loud.example")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Suspend"  # the checked choice of the group
    await page.keyboard.press("ArrowDown")
    assert await focused_label(page) == "Limit" and await focused(page, "el.checked")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Don't show media from this server"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # don't accept reports from it
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Public reason (optional)"
    await page.keyboard.type("Pile-ons on people who ask for help")
    await page.get_by_role("button", name="Add to the list").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Added." in await page.inner_text("[role=status]")
    row = page.locator("#domain-loud\\.example")
    assert "Limited" in await row.inner_text() and "reports not accepted" in await row.inner_text()

    async with instance.sessions() as session:
        policy = await session.get(DomainPolicy, "loud.example")
    assert (policy.severity, policy.reject_reports, policy.public_comment) == \
        ("limit", True, "Pile-ons on people who ask for help")

    # Words and phrases: hold a Spanish phrase for a moderator.
    await page.get_by_role("navigation", name="Admin").get_by_role("link", name="Words and phrases").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.get_by_label("Word, phrase or pattern").focus()
    await page.keyboard.type("(no+)+ quiero")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "This is a pattern (a regular expression)"
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Only for posts in this language (optional)"
    await page.keyboard.type("es")
    await page.get_by_role("button", name="Add rule").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    pattern = page.get_by_label("Word, phrase or pattern")
    assert await pattern.get_attribute("aria-invalid") == "true"
    assert "repeats a group" in await page.inner_text("#pattern-error")
    assert await pattern.input_value() == "(no+)+ quiero"  # what they typed stays
    assert await page.get_by_label("This is a pattern (a regular expression)").is_checked()

    await pattern.focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("no quiero vivir")
    await page.get_by_label("This is a pattern (a regular expression)").focus()
    await page.keyboard.press("Space")  # a plain phrase after all
    await page.get_by_label("Hold it for a moderator").focus()
    assert await focused(page, "el.checked")
    await page.get_by_role("button", name="Add rule").focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Added." in await page.inner_text("[role=status]")
    listed = await page.inner_text("table")
    assert "no quiero vivir" in listed and "held for a moderator" in listed
    await page.screenshot(path=str(tmp_path / "keywords.png"), full_page=True)

    async with instance.sessions() as session:
        rule = await session.scalar(select(KeywordRule))
    assert (rule.pattern, rule.is_regex, rule.language, rule.action) == ("no quiero vivir", False, "es", "hold")
    assert hosts == {instance.settings.domain}
