"""Pages about this site itself: what it keeps about people, and what it shares."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..domain import accounts
from . import auth
from .pages import render


async def privacy_page(request: Request) -> Response:
    """/about/privacy. Figures come from the code that enforces them, so the page cannot drift."""
    await auth.current_user(request)  # so the header knows who is here
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    throttle = auth.LoginThrottle()
    return auth.apply_cookies(request, render(
        request, "privacy.html", site=site, session_days=auth.SESSION_LIFETIME.days,
        throttle_minutes=round(throttle.window / 60)))


def routes() -> list[Route]:
    return [Route("/about/privacy", privacy_page, name="privacy")]
