"""Admins start communities; admins and owners change a community's settings."""
from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, communities
from ..domain.errors import DomainError
from ..models import Actor
from . import auth
from .forms import text_field
from .thread_pages import page, redirect
from ..i18n import _


def _settings_from(form) -> communities.CommunitySettings:
    return communities.CommunitySettings(
        title=text_field(form, "title", 1000), description=text_field(form, "description", 20_000),
        languages=text_field(form, "languages", 200), requires_approval=form.get("requires_approval") == "on",
        microblog_distribution=text_field(form, "microblog_distribution", 20) or "threads",
        rules=tuple(text_field(form, "rules", 20_000).replace("\r\n", "\n").split("\n")),
        allow_pseudonyms=form.get("allow_pseudonyms") == "on",
        volunteer_translations=form.get("volunteer_translations") == "on",
    )


def _values(s: communities.CommunitySettings, **extra: Any) -> dict[str, Any]:
    return {"title": s.title, "description": s.description, "languages": s.languages,
            "requires_approval": s.requires_approval, "microblog_distribution": s.microblog_distribution,
            "rules": "\n".join(s.rules), "allow_pseudonyms": s.allow_pseudonyms,
            "volunteer_translations": s.volunteer_translations, **extra}


@auth.admin_required
async def new_community(request: Request) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    show = lambda values, error=None, status=200: page(  # noqa: E731 - one page, two answers
        request, "community_new.html", site=site, viewer=me, values=values, error=error, status_code=status)
    if request.method == "GET":
        return show({"name": "", "languages": "en", "microblog_distribution": "threads", "volunteer_translations": True})
    form = await auth.csrf_protect(request)
    chosen = _settings_from(form)
    name = text_field(form, "name", 100).strip().lower()
    owner_name = text_field(form, "owner", 100).strip().lower().removeprefix("@")
    try:
        async with db.transaction(request.app.state.sessions) as session:
            owner = await accounts.local_actor_by_name(session, request.app.state.settings, owner_name or me.username)
            if owner is None or owner.kind != "person":
                raise DomainError(f"There is nobody called {owner_name} here to own it.")
            checked = chosen.checked()
            community = await accounts.create_community(
                session, request.app.state.settings, name, checked.title, description=checked.description,
                languages=checked.languages, requires_approval=checked.requires_approval, owner=owner)
            await communities.configure(session, request.app.state.settings, await session.get(Actor, me.actor.id),
                                        community, checked)
    except DomainError as exc:
        return show(_values(chosen, name=name, owner=owner_name), str(exc), 400)
    return redirect(request, f"/c/{community.name}?created=1")


@auth.login_required
async def community_settings(request: Request) -> Response:
    me = await auth.current_user(request)
    name = request.path_params["name"]
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        community = await accounts.community_by_name(session, name)
        if community is None:
            raise HTTPException(404, _("We couldn't find that community."))
        if not await communities.may_configure(session, await session.get(Actor, me.actor.id), community):
            raise HTTPException(403, _("Only an admin or the community's owner can change its settings."))
        current = communities.CommunitySettings(
            community.title, community.description, community.languages, community.requires_approval,
            community.microblog_distribution, tuple(await communities.rules_of(session, community)),
            community.allow_pseudonyms, community.volunteer_translations)
    show = lambda values, error=None, status=200, saved=False: page(  # noqa: E731
        request, "community_settings.html", site=site, viewer=me, community=community, values=values,
        error=error, saved=saved, status_code=status)
    if request.method == "GET":
        return show(_values(current), saved="saved" in request.query_params)
    form = await auth.csrf_protect(request)
    chosen = _settings_from(form)
    try:
        async with db.transaction(request.app.state.sessions) as session:
            community = await accounts.community_by_name(session, name)
            await communities.configure(session, request.app.state.settings, await session.get(Actor, me.actor.id),
                                        community, chosen)
    except DomainError as exc:
        return show(_values(chosen), str(exc), 400)
    return redirect(request, f"/c/{community.name}/settings?saved=1")


def routes() -> list[Route]:
    return [
        Route("/communities/new", new_community, methods=["GET", "POST"], name="community_new"),
        Route("/c/{name}/settings", community_settings, methods=["GET", "POST"], name="community_settings"),
    ]
