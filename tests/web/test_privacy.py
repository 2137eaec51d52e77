"""The privacy page tells people what is kept, with the figures the code enforces."""
from __future__ import annotations

import html

from fedisupport.web import auth


async def test_every_page_links_to_the_privacy_page_and_it_states_the_real_limits(instance):
    async with instance.client() as client:
        home = await client.get("/")
        assert "/about/privacy\">Your privacy here</a>" in home.text
        page = await client.get("/about/privacy")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Your privacy here" in text
    assert f"{auth.SESSION_LIFETIME.days} days after you last used it" in text
    assert f"at most {round(auth.LoginThrottle().window / 60)} minutes" in text
    assert "/settings/export\"" in page.text and "/settings/delete\"" in page.text


async def test_the_privacy_page_speaks_the_readers_language(instance):
    async with instance.client() as client:
        page = await client.get("/about/privacy", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert '<html lang="es"' in page.text
