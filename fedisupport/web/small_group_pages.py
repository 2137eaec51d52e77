"""Small groups on the web: starting one from a thread, inviting, invitations, the group's pages.

Every form carries the CSRF token and works without JavaScript. A small group's page shows
strangers its name, description and rules and a way to ask to join; its threads and its
members are for members only (docs/small-groups.md).
"""
from __future__ import annotations

from sqlalchemy import select, tuple_
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, moderation, small_groups
from ..domain.errors import DomainError, NotFound
from ..i18n import _
from ..models import Actor, Community, Post
from ..models.content import MEMBERS, PUBLISHED
from . import auth
from .care import crisis_resources
from .paging import decode_cursor, encode_cursor
from .thread_pages import page, redirect
from .thread_view import NOT_FOUND, load_post, membership_of, post_id_of

MAX_RULES_TEXT = 20 * 600


def _text(form, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _form(request: Request):
    """The CSRF-checked form and who sent it; a failed check changes nothing (403)."""
    me = await auth.current_user(request)
    form = await auth.csrf_protect(request)
    if me is None:
        raise HTTPException(403, auth.CSRF_FAILED)
    return form, me


# --- starting a small group from a thread -----------------------------------------------------


async def _thread_for_start(session, request: Request, me: auth.CurrentUser) -> tuple[Post, Community]:
    found = await load_post(session, post_id_of(request))
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    thread = found[0]
    if not await small_groups.may_start_from(session, me.actor, thread):
        # Not a thread this person may start a group from (or one they can't see at all).
        raise HTTPException(404, NOT_FOUND)
    parent = await session.scalar(select(Community).where(Community.actor_id == thread.community_id))
    return thread, parent


@auth.login_required
async def start_group(request: Request) -> Response:
    """/p/{id}/small-group: name, short description and rules; the starter becomes its owner."""
    me = await auth.current_user(request)
    values = {"title": "", "description": "", "rules": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form, me = await _form(request)
        values = {"title": _text(form, "title", small_groups.MAX_TITLE * 2).strip(),
                  "description": _text(form, "description", small_groups.MAX_DESCRIPTION + 1),
                  "rules": _text(form, "rules", MAX_RULES_TEXT)}
        try:
            async with db.transaction(request.app.state.sessions) as session:
                thread, _parent = await _thread_for_start(session, request, me)
                group = await small_groups.start(session, request.app.state.settings, await session.get(Actor, me.actor.id),
                                                 thread, title=values["title"], description=values["description"],
                                                 rules=values["rules"].splitlines())
                name = group.name
        except DomainError as exc:
            errors = {getattr(exc, "field", "title"): str(exc)}  # a FieldError names its field
            status = 400
        else:
            return redirect(request, f"/c/{name}/invite?started=1")
    async with request.app.state.sessions() as session:
        thread, parent = await _thread_for_start(session, request, me)
        site = await accounts.get_site(session)
    return page(request, "small_group_new.html", status_code=status, site=site, viewer=me, thread=thread,
                community=parent, values=values, errors=errors, MAX_GROUP_TITLE=small_groups.MAX_TITLE)


# --- inviting people from the thread ----------------------------------------------------------


@auth.login_required
async def invite(request: Request) -> Response:
    """/c/{name}/invite: the group's moderators pick people who took part in the thread."""
    me = await auth.current_user(request)
    settings = request.app.state.settings
    sent = 0
    if request.method == "POST":
        form, me = await _form(request)
        chosen = {int(v) for v in form.getlist("invitee") if isinstance(v, str) and v.isdigit()}
        async with db.transaction(request.app.state.sessions) as session:
            community, _group_actor = await _group(session, request)
            by = await session.get(Actor, me.actor.id)
            if not await small_groups.may_invite(session, by, community):
                raise HTTPException(404, _("We couldn't find that group."))
            for actor in await small_groups.invitable(session, community):
                if actor.id in chosen:
                    await small_groups.invite(session, settings, by, community, actor)
                    sent += 1
        return redirect(request, f"/c/{community.name}/invite?sent={sent}")
    async with request.app.state.sessions() as session:
        community, _group_actor = await _group(session, request)
        if not await small_groups.may_invite(session, me.actor, community):
            raise HTTPException(404, _("We couldn't find that group."))
        people = await small_groups.invitable(session, community)
        site = await accounts.get_site(session)
    return page(request, "small_group_invite.html", site=site, viewer=me, community=community, people=people,
                started="started" in request.query_params, sent=request.query_params.get("sent"))


# --- a local person's invitations ---------------------------------------------------------------


@auth.login_required
async def invitations(request: Request) -> Response:
    """/invitations: small groups someone here was invited into, to accept or decline."""
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        waiting = await small_groups.invitations_for(session, me.actor)
        groups = await small_groups.groups_of(session, me.actor)
        site = await accounts.get_site(session)
    return page(request, "invitations.html", site=site, viewer=me, waiting=waiting, groups=groups,
                declined="declined" in request.query_params)


async def answer(request: Request) -> Response:
    form, me = await _form(request)
    try:
        invitation_id = int(request.path_params["invitation_id"])
    except ValueError:
        raise HTTPException(404, _("We couldn't find that invitation.")) from None
    if request.path_params["answer"] not in ("accept", "decline"):
        raise HTTPException(404, _("We couldn't find that invitation."))
    accept = request.path_params["answer"] == "accept"
    try:
        async with db.transaction(request.app.state.sessions) as session:
            community = await small_groups.answer(session, request.app.state.settings,
                                                  await session.get(Actor, me.actor.id), invitation_id, accept=accept)
            name = community.name
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return redirect(request, f"/c/{name}?joined=1" if accept else "/invitations?declined=1")


# --- the group's own pages ----------------------------------------------------------------------


async def _group(session, request: Request) -> tuple[Community, Actor]:
    try:
        return await small_groups.group_of(session, request.path_params["name"])
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


async def is_small_group(request: Request, name: str) -> bool:
    async with request.app.state.sessions() as session:
        return bool(await session.scalar(select(Community.id).where(
            Community.name == name.lower(), Community.local.is_(True), Community.members_only.is_(True))))


async def group_page(request: Request) -> Response:
    """/c/{name} of a small group: what it is for anyone; its threads for members only."""
    me = await auth.current_user(request)
    viewer = me.actor if me else None
    page_size = request.app.state.settings.page_size
    cursor = decode_cursor(request.query_params.get("before"))
    async with request.app.state.sessions() as session:
        community, group_actor = await _group(session, request)
        reader = await small_groups.may_read_members_only(session, viewer, group_actor.id)
        rows = []
        if reader:
            query = (select(Post, Actor).join(Actor, Actor.id == Post.author_id)
                     .where(Post.community_id == group_actor.id, Post.is_thread.is_(True), Post.state == PUBLISHED,
                            Post.visibility == MEMBERS)
                     .order_by(Post.last_activity_at.desc(), Post.id.desc()).limit(page_size + 1))
            if cursor:
                query = query.where(tuple_(Post.last_activity_at, Post.id) < cursor)
            rows = list((await session.execute(query)).all())
        membership = await membership_of(session, me, group_actor)
        may_invite = await small_groups.may_invite(session, viewer, community)
        rules = await _rules(session, community)
        care = await crisis_resources(request, session)
        site = await accounts.get_site(session)
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = encode_cursor(rows[-1][0].last_activity_at, rows[-1][0].id) if more else None
    notice = next((key for key in ("joined", "left", "deleted") if key in request.query_params), None)
    response = page(request, "small_group.html", site=site, viewer=me, community=community, reader=reader,
                    threads=rows, next_cursor=next_cursor, membership=membership, may_invite=may_invite,
                    rules=rules, care=care, notice=notice)
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _rules(session, community: Community):
    from ..models import Rule

    return list(await session.scalars(select(Rule).where(Rule.community_id == community.id)
                                      .order_by(Rule.position, Rule.id)))


async def members(request: Request) -> Response:
    """/c/{name}/members: who is in the group, for its members (and moderators) only."""
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        community, group_actor = await _group(session, request)
        if not await small_groups.may_read_members_only(session, me.actor if me else None, group_actor.id):
            raise HTTPException(404, _("We couldn't find that group."))  # as if there were no such page
        people = await small_groups.members_of(session, community)
        site = await accounts.get_site(session)
        moderating = await moderation.may_moderate(session, me.actor if me else None, community)
    response = page(request, "small_group_members.html", site=site, viewer=me, community=community, people=people,
                    moderating=moderating)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def routes() -> list[Route]:
    return [
        Route("/p/{post_id}/small-group", start_group, methods=["GET", "POST"], name="small_group_start"),
        Route("/c/{name}/invite", invite, methods=["GET", "POST"], name="small_group_invite"),
        Route("/c/{name}/members", members, name="small_group_members"),
        Route("/invitations", invitations, name="invitations"),
        Route("/invitations/{invitation_id}/{answer:str}", answer, methods=["POST"], name="invitation_answer"),
    ]
