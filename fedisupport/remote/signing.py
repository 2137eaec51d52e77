"""Signers for outgoing requests: every request leaves signed by one of our actors."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.fetch import Signer
from ..activitypub.signatures import sign_request
from ..domain.accounts import INSTANCE_ACTOR_USERNAME
from ..models import Actor
from ..settings import ConfigError, Settings


def signer_for(key_id: str, private_key_pem: str) -> Signer:
    def sign(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        return sign_request(method, url, headers, body, key_id, private_key_pem)

    return sign


async def load_instance_signer(session: AsyncSession, settings: Settings) -> Signer:
    actor = await session.scalar(select(Actor).where(
        Actor.local.is_(True), Actor.domain == settings.domain, Actor.username == INSTANCE_ACTOR_USERNAME))
    if actor is None or not actor.private_key_pem or not actor.key_id:
        raise ConfigError("the instance actor is missing: run `fedisupport init`")
    return signer_for(actor.key_id, actor.private_key_pem)
