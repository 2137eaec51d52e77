"""Finding a community on another server by its handle, to read and join it from here."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, following
from ..models import GROUP
from ..remote.webfinger import NotFound, resolve_handle
from . import auth
from .thread_pages import page, redirect


@auth.login_required
async def find_community(request: Request) -> Response:
    """/find?q=@name@host: a signed-in person looks a community up (it makes us fetch, so no strangers)."""
    me = await auth.current_user(request)
    query = (request.query_params.get("q") or "").strip()[:300]
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    if not query:
        return page(request, "find.html", site=site, viewer=me, query="", error=None)
    services = request.app.state.services
    try:
        async with db.transaction(request.app.state.sessions) as session:
            actor = await resolve_handle(services, session, query)
            if actor.kind != GROUP:
                raise NotFound(f"{query} is a person, not a community")
            if actor.local:
                return redirect(request, f"/c/{actor.username}")
            community = await following.remember_remote_community(session, actor)
            name = community.name
    except NotFound as exc:
        return page(request, "find.html", site=site, viewer=me, query=query, error=exc.reason, status_code=404)
    return redirect(request, f"/c/{name}")


def routes() -> list[Route]:
    return [Route("/find", find_community, name="find")]
