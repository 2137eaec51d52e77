"""The web shell over real HTTP: home, community and post pages, errors and headers."""
from __future__ import annotations

import pytest
from starlette.requests import Request

from fedisupport import db
from fedisupport.domain import accounts, posting
from fedisupport.web.negotiation import wants_activitypub


async def seed(instance, threads: int = 1) -> None:
    async with db.transaction(instance.sessions) as session:
        user = await accounts.create_user(session, instance.settings, "ada", "a long enough password")
        author = await session.get(accounts.Actor, user.actor_id)
        community = await accounts.create_community(session, instance.settings, "hope", "Hope <here>",
                                                    description="Reply here, we'll listen.")
        for n in range(threads):
            await posting.start_thread(session, instance.settings, author, community,
                                       title=f"Thread {n}", body=f"Body **{n}** <script>alert(1)</script>")


async def test_home_lists_communities(instance):
    await seed(instance)
    async with instance.client() as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert "Hope &lt;here&gt;" in response.text  # escaped, never raw
    assert f"@hope@{instance.settings.domain}" in response.text
    assert 'href="http://' in response.text and "/help" in response.text


async def test_community_page_pages_threads_by_latest_activity(instance):
    await seed(instance, threads=instance.settings.page_size + 3)
    async with instance.client() as client:
        first = await client.get("/c/hope")
        assert first.status_code == 200
        last_title = f"Thread {instance.settings.page_size + 2}"
        assert last_title in first.text  # newest first
        assert "Thread 0<" not in first.text
        assert 'rel="next"' in first.text
        cursor = first.text.split('?before=')[1].split('"')[0]
        second = await client.get(f"/c/hope?before={cursor}")
    assert "Thread 0<" in second.text and "Thread 2<" in second.text
    assert last_title not in second.text
    assert 'rel="next"' not in second.text


async def test_post_page_shows_sanitised_markdown(instance):
    await seed(instance)
    async with instance.client() as client:
        community = await client.get("/c/hope")
        post_path = [part.split('"')[0] for part in community.text.split('href="') if "/p/" in part.split('"')[0]][0]
        response = await client.get(post_path)
    assert response.status_code == 200
    assert "<strong>0</strong>" in response.text
    assert "<script>alert" not in response.text


@pytest.mark.parametrize("path", ["/c/nobody", "/p/12345", "/p/not-a-number", "/nothing-here"])
async def test_missing_things_get_a_kind_404_page(instance, path):
    async with instance.client() as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert "couldn't find" in response.text
    assert "Get help now" in response.text


async def test_every_page_sends_privacy_and_security_headers(instance):
    async with instance.client() as client:
        for path in ("/", "/help", "/static/style.css", "/c/nobody"):
            response = await client.get(path)
            assert "default-src 'self'" in response.headers["content-security-policy"], path
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_help_page_is_reachable_and_plain(instance):
    async with instance.client() as client:
        response = await client.get("/help")
    assert response.status_code == 200
    assert "emergency number" in response.text


def _request(accept: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"accept", accept.encode())]})


@pytest.mark.parametrize("accept, expected", [
    ("application/activity+json", True),
    ('application/ld+json; profile="https://www.w3.org/ns/activitystreams"', True),
    ("application/activity+json, application/ld+json", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    ("text/html, application/activity+json;q=0.5", False),
    ("application/activity+json;q=0", False),
    ("", False),
    ("*/*", False),
])
def test_content_negotiation(accept, expected):
    assert wants_activitypub(_request(accept)) is expected
