"""The URLs of our own objects. URLs are forever: change nothing here without a redirect."""
from __future__ import annotations

from .settings import Settings


def instance_actor(s: Settings) -> str:
    return s.url("/actor")


def person(s: Settings, username: str) -> str:
    return s.url(f"/u/{username}")


def community(s: Settings, name: str) -> str:
    return s.url(f"/c/{name}")


def actor(s: Settings, kind: str, username: str) -> str:
    if kind == "application":
        return instance_actor(s)
    return community(s, username) if kind == "group" else person(s, username)


def post(s: Settings, post_id: int) -> str:
    return s.url(f"/p/{post_id}")


def shared_inbox(s: Settings) -> str:
    return s.url("/inbox")


def key_id(actor_ap_id: str) -> str:
    return actor_ap_id + "#main-key"


def activity(s: Settings, token: str) -> str:
    return s.url(f"/activities/{token}")
