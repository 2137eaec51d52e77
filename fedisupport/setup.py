"""Setting up an instance: the settings file, the schema, the instance actor and the admin."""
from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import care
from .db import create_engine, run_migrations, session_factory, transaction
from .domain import accounts, posting
from .settings import Settings, settings_path, write_settings_file

DEMO_COMMUNITY = "hope"
DEMO_THREAD_TITLE = "Struggling today? So am I."
DEMO_THREAD_BODY = (
    "Struggling today? So am I. Reply here, we'll listen, no judgment.\n\n"
    "You don't have to explain everything or say it well. A few words are enough. "
    "If you are in danger right now, please use **Get help now** at the top of the page."
)


@dataclass
class SetupResult:
    admin_username: str
    admin_password: str | None  # only when we made it up; shown once, never stored in clear
    created_admin: bool
    demo_community: str | None


def write_settings(settings: Settings, path: Path | None = None) -> Path:
    path = path or settings_path(settings.data_dir)
    values: dict[str, object] = {"domain": settings.domain, "database_url": settings.database_url,
                                 "secret_key": settings.secret_key or secrets.token_urlsafe(32)}
    if settings.insecure_http:
        values["insecure_http"] = True
    if settings.host != "127.0.0.1":
        values["host"] = settings.host
    if settings.port != 8000:
        values["port"] = settings.port
    write_settings_file(path, values)
    return path


async def _populate(settings: Settings, site_name: str, admin_username: str, admin_password: str | None,
                    admin_email: str | None, demo_content: bool) -> SetupResult:
    engine = create_engine(settings)
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            await accounts.ensure_instance_actor(session, settings)
            await accounts.ensure_site(session, site_name)
            await care.seed_all(session)  # crisis services and phrases shipped in fedisupport/data/
            admin_actor = await accounts.local_actor_by_name(session, settings, admin_username)
            made_password = None
            created = False
            if admin_actor is None:
                made_password = None if admin_password else secrets.token_urlsafe(12)
                user = await accounts.create_user(
                    session, settings, admin_username, admin_password or made_password, email=admin_email,
                    is_admin=True, display_name=admin_username,
                )
                admin_actor = await session.get(accounts.Actor, user.actor_id)
                created = True
            community_name = None
            if demo_content and await accounts.community_by_name(session, DEMO_COMMUNITY) is None:
                community = await accounts.create_community(
                    session, settings, DEMO_COMMUNITY, "Hope — reply here, we'll listen",
                    description="A place to say how today is going. Read the replies, add your own, be kind.",
                    languages="en", owner=admin_actor,
                )
                await posting.start_thread(session, settings, admin_actor, community, title=DEMO_THREAD_TITLE,
                                           body=DEMO_THREAD_BODY, language="en")
                community_name = community.name
        return SetupResult(admin_username, made_password, created, community_name)
    finally:
        await engine.dispose()


def initialize(settings: Settings, *, site_name: str, admin_username: str = "admin", admin_password: str | None = None,
               admin_email: str | None = None, demo_content: bool = False) -> SetupResult:
    """Create the schema and the first rows. Safe to run again: it only adds what is missing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings)
    return asyncio.run(_populate(settings, site_name, admin_username, admin_password, admin_email, demo_content))

