"""Using our HTML forms over real HTTP as a browser would: open the page, post with its CSRF token."""
from __future__ import annotations

import re

import httpx

PASSWORD = "a long enough password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no form"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> None:
    """Sign in through /login; fails the test unless it worked."""
    page = await client.get("/login")
    response = await client.post("/login", data={"csrf_token": csrf_of(page.text), "username": name,
                                                 "password": password, "next": "/"})
    assert response.status_code == 303, response.text


async def submit(client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open a page like a browser, then post one of its forms with the page's token."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_of(page.text), **data})
