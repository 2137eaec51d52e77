"""A newcomer signs up, logs out and back in, and changes their name: keyboard only, no JavaScript."""
from __future__ import annotations

from urllib.parse import urlparse

PASSWORD = "tea and a quiet walk"


async def focused_label(page) -> str:
    """The label text of whatever has focus, as a screen reader would announce it."""
    return await page.evaluate(
        "(() => { const el = document.activeElement;"
        " return el.labels && el.labels.length ? el.labels[0].textContent.trim() : el.textContent.trim(); })()"
    )


async def test_sign_up_log_out_log_in_and_rename_by_keyboard(instance, page, tmp_path):
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))

    await page.goto(instance.base_url + "/")
    await page.get_by_role("link", name="Sign up").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/signup")

    # The fields come in reading order, each announced by its label.
    await page.get_by_label("Choose a name").focus()
    await page.keyboard.type("robin")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Choose a password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Type the password again"
    await page.keyboard.type(PASSWORD + " oops")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")

    # A mistake: the summary has focus, and the field says what is wrong.
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    again = page.get_by_label("Type the password again")
    assert await again.get_attribute("aria-invalid") == "true"
    assert "don't match" in await page.inner_text(f"#{await again.get_attribute('aria-describedby')}")
    await page.screenshot(path=str(tmp_path / "signup-mistake.png"), full_page=True)
    await page.get_by_label("Choose a password").fill(PASSWORD)
    await again.fill(PASSWORD)
    await again.press("Enter")

    await page.wait_for_url("**/signup?welcome=1")
    assert await page.get_by_role("heading", name="Welcome, robin").is_visible()
    account = page.get_by_role("navigation", name="Your account")
    assert await account.get_by_role("link", name="robin").is_visible()

    await account.get_by_role("button", name="Log out").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/login?logged_out=1")
    assert "You've logged out" in await page.inner_text("main")

    await page.get_by_label("Your name").focus()
    await page.keyboard.type("robin")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "Password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(instance.base_url + "/")

    await page.get_by_role("navigation", name="Your account").get_by_role("link", name="Settings").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/settings/profile")
    await page.get_by_label("Display name").focus()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("Robin Q")
    await page.keyboard.press("Tab")
    assert await focused_label(page) == "About you"
    await page.keyboard.type("Here most evenings.")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # the Save button

    await page.wait_for_url("**/settings/profile?saved=1")
    assert "Your profile has been saved." in await page.inner_text("main")
    assert await page.get_by_role("navigation", name="Your account").get_by_role("link", name="Robin Q").is_visible()
    await page.screenshot(path=str(tmp_path / "settings.png"))
    assert hosts == {instance.settings.domain}
