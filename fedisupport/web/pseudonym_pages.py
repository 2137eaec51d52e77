"""`/c/{name}/pseudonyms`: who is behind each pseudonym in a community, for its moderators and admins.

The one page that shows the link (besides a line on a post's moderation page). Anyone else,
signed in or not, gets the same 403 the other moderators' pages give, whatever the community
holds. Never cached (`no-store`), never linked from anything public.

Admins can suspend a pseudonym here, and, when they choose, the account behind it.
"""
from __future__ import annotations

from typing import Final

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, moderation, pseudonyms
from ..domain.errors import DomainError
from ..models import Actor, Pseudonym
from . import auth
from .account_pages import redirect, render
from ..i18n import _, lazy_gettext

NO_STORE: Final = "private, no-store"
DONE: Final = {
    "suspended": lazy_gettext("The pseudonym is suspended."),
    "both_suspended": lazy_gettext("The pseudonym and the account behind it are suspended."),
    "unsuspended": lazy_gettext("The suspension is lifted."),
}


def _forbidden() -> HTTPException:
    return HTTPException(403, _("This page is for the moderators of a community here. If you think you should "
                                "have access, please ask an admin."))


async def _community_for_moderator(session, me: auth.CurrentUser, name: str):
    community = await accounts.community_by_name(session, name)
    viewer = await session.get(Actor, me.actor.id)
    if community is None or not community.local or not await moderation.may_moderate(session, viewer, community):
        raise _forbidden()  # the same answer whether or not there is such a community
    return community, viewer


@auth.login_required
async def community_pseudonyms(request: Request) -> Response:
    me = await auth.current_user(request)
    name = request.path_params["name"].lower()
    error = None
    if request.method == "POST":
        form = await auth.csrf_protect(request)
        action = form.get("action")
        try:
            async with db.transaction(request.app.state.sessions) as session:
                community, viewer = await _community_for_moderator(session, me, name)
                done = await _suspend(session, viewer, community, form, action)
        except moderation.NotAllowed as exc:
            error = str(exc)
        except DomainError as exc:
            error = str(exc)
        else:
            return _private(redirect(request, f"/c/{name}/pseudonyms?done={done}"))
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
        community, viewer = await _community_for_moderator(session, me, name)
        links = await pseudonyms.links_in(session, viewer, community)
    response = render(request, "community_pseudonyms.html", status_code=400 if error else 200, site=site, me=me,
                      community=community, links=links, is_admin=me.is_admin, error=error,
                      done=DONE.get(request.query_params.get("done", "")))
    return _private(response)


async def _suspend(session, viewer: Actor, community, form, action) -> str:
    if action not in ("suspend", "unsuspend"):
        raise DomainError(_("Please choose one of the actions on this page."))
    try:
        actor_id = int(form.get("pseudonym") or "")
    except ValueError:
        raise DomainError(_("Please choose a pseudonym from the list.")) from None
    found = await session.scalar(select(Pseudonym).where(Pseudonym.actor_id == actor_id,
                                                         Pseudonym.community_id == community.id))
    if found is None:
        raise DomainError(_("Please choose a pseudonym from the list."))
    pseudonym = await session.get(Actor, actor_id)
    owner_too = form.get("owner_too") == "on"
    reason = form.get("reason") if isinstance(form.get("reason"), str) else ""
    await pseudonyms.suspend(session, viewer, community, pseudonym, owner_too=owner_too, reason=reason[:2001],
                             suspended=action == "suspend")
    if action == "unsuspend":
        return "unsuspended"
    return "both_suspended" if owner_too else "suspended"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = NO_STORE
    return response


def routes() -> list[Route]:
    return [Route("/c/{name}/pseudonyms", community_pseudonyms, methods=["GET", "POST"], name="community_pseudonyms")]
