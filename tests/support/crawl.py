"""One crawler for every "nothing leaks" test: what anyone (or any signed stranger) can reach.

It starts from seed paths and follows every link on our own origin: `href`s in HTML, and every
URL in ActivityStreams JSON (actors, outboxes, collections and their `first`/`next` pages,
WebFinger and NodeInfo links). Each URL is fetched as HTML and as JSON. The pseudonym crawl
(tests/web/test_pseudonyms.py) looks for a pseudonym next to the person behind it, and for
members-only text of a small group, in every answer.
"""
from __future__ import annotations

import html
import re
from collections import deque
from urllib.parse import urljoin

import httpx


class Crawl:
    """Every page and document reachable from the public entry points, fetched as HTML and as JSON."""

    SKIP = ("/static/", "/logout", "/inbox", "/help/region")

    def __init__(self, instance, sign=None, limit: int = 600):
        self.instance = instance
        self.base = instance.base_url
        self.sign = sign
        self.limit = limit
        self.seen: dict[tuple[str, str], httpx.Response] = {}

    def _ours(self, url: str) -> str | None:
        url = url.split("#", 1)[0]
        if not url.startswith(self.base):
            return None
        path = url[len(self.base):] or "/"
        if any(path.startswith(skip) for skip in self.SKIP):
            return None
        return url

    def _links(self, response: httpx.Response) -> list[str]:
        found = []
        kind = response.headers.get("content-type", "")
        if "json" in kind:
            def walk(value):
                if isinstance(value, str) and value.startswith(self.base):
                    found.append(value)
                elif isinstance(value, dict):
                    for item in value.values():
                        walk(item)
                elif isinstance(value, list):
                    for item in value:
                        walk(item)
            try:
                walk(response.json())
            except ValueError:
                pass
        elif "html" in kind:
            for href in re.findall(r'href="([^"]+)"', response.text):
                found.append(urljoin(str(response.url), html.unescape(href)))
        return found

    async def _get(self, client: httpx.AsyncClient, url: str, accept: str) -> httpx.Response:
        headers = {"Accept": accept}
        if self.sign is not None:
            headers = self.sign(url, headers)
        return await client.get(url, headers=headers)

    async def run(self, seeds: list[str]) -> dict[tuple[str, str], httpx.Response]:
        queue = deque(self.base + s if s.startswith("/") else s for s in seeds)
        queued = set(queue)
        async with httpx.AsyncClient(timeout=20) as client:
            while queue and len(self.seen) < self.limit:
                url = self._ours(queue.popleft())
                if url is None:
                    continue
                for accept in ("text/html", "application/activity+json"):
                    response = await self._get(client, url, accept)
                    self.seen[(url, accept)] = response
                    for link in self._links(response):
                        link = self._ours(link)
                        if link and link not in queued:
                            queued.add(link)
                            queue.append(link)
        return self.seen


def leaks(seen: dict, real: set[str], pseudonym: set[str]) -> list[str]:
    """Answers that name both the real person and the pseudonym: the link this crawl looks for."""
    out = []
    for (url, accept), response in seen.items():
        text = response.text + " " + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        for variant in (text, html.unescape(text)):
            if any(r in variant for r in real) and any(p in variant for p in pseudonym):
                out.append(f"{url} ({accept}) {response.status_code}")
                break
    return out



def containing(seen: dict, needles: set[str]) -> list[str]:
    """Answers (body or headers) that contain any of `needles`: members-only text that got out."""
    out = []
    for (url, accept), response in seen.items():
        text = response.text + " " + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        if any(n in variant for variant in (text, html.unescape(text)) for n in needles):
            out.append(f"{url} ({accept}) {response.status_code}")
    return out
