"""Moderators' pages, reports and the public modlog. Every page works without JavaScript.

- `/mod`: the queue of the communities this person moderates (admins: all): held posts (ours and
  other servers'), join requests, held activities and open reports, urgent ones first. Post text
  stays hidden (and blurred on screen) until the moderator opens it. Every action is a POST form
  with the CSRF token; success redirects (303) back with a short note of what happened.
- `/p/{id}/moderate`: remove or restore a post; lock, pin and slow down a thread; suspend a
  remote author (admins).
- `/c/{name}/moderation`: the community's moderators (appointed and dismissed by its owner or an
  admin) and bans (with an optional end).
- `/mod/accounts`: remote accounts suspended on this instance (admins).
- `/p/{id}/report`, `/u/{name}/report`: any reader reports a post or an account. People who are
  not signed in may report too, because someone worried about a stranger should not need an
  account for it: the form carries the signed anonymous CSRF token (auth.py), each address may
  send a few an hour, and the whole instance takes a bounded number of anonymous reports an hour.
- `/modlog`, `/c/{name}/modlog`: what moderators did, with reasons, newest first by keyset. It
  never names who reported, nor which volunteer acted, nor who asked to join a community.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import db
from ..domain import accounts, mod_queue, moderation, pseudonyms, reports, small_groups
from ..domain.errors import DomainError, NotFound
from ..models import PERSON, Actor, Community, Post, utcnow
from ..models.content import HELD, MEMBERS, PUBLIC, PUBLISHED, UNLISTED
from ..remote import webfinger
from ..remote.actors import ActorUnavailable
from ..i18n import _, lazy_gettext
from . import auth
from .forms import text_field
from .account_pages import redirect, render
from .paging import decode_cursor, encode_cursor

MODLOG_PAGE: Final = 50
QUEUE_LIMIT: Final = 100
REPORTS_PER_HOUR: Final = 10  # a signed-in reader
ANONYMOUS_REPORTS_PER_ADDRESS: Final = 3  # an hour
ANONYMOUS_REPORTS_PER_HOUR: Final = 30  # from everyone not signed in, together
MAX_REPORT_TEXT: Final = 2000

# The durations a ban can have; "" means until it is lifted.
BAN_LENGTHS: Final = {
    "1": (lazy_gettext("One day"), dt.timedelta(days=1)), "3": (lazy_gettext("Three days"), dt.timedelta(days=3)),
    "7": (lazy_gettext("A week"), dt.timedelta(days=7)), "30": (lazy_gettext("A month"), dt.timedelta(days=30)),
    "90": (lazy_gettext("Three months"), dt.timedelta(days=90)), "": (lazy_gettext("Until it is lifted"), None),
}
SLOW_MODES: Final = {
    0: lazy_gettext("Off"), 30: lazy_gettext("30 seconds"), 60: lazy_gettext("1 minute"),
    300: lazy_gettext("5 minutes"), 900: lazy_gettext("15 minutes"), 3600: lazy_gettext("1 hour"),
    86400: lazy_gettext("1 day"),
}
CATEGORIES: Final = {
    "welfare": (lazy_gettext("I'm worried about this person"),
                lazy_gettext("They may be in danger or struggling badly. "
                             "This goes to the top of the moderators' list.")),
    "rule": (lazy_gettext("It breaks a rule"), lazy_gettext("Of this community or of this site.")),
    "spam": (lazy_gettext("It's spam or an advert"), lazy_gettext("Selling something, or posted over and over.")),
    "other": (lazy_gettext("Something else"), lazy_gettext("Tell the moderators below.")),
}
# What each action is called in the modlog.
ACTION_WORDS: Final = {
    "approve": lazy_gettext("Approved"), "reject": lazy_gettext("Did not publish"),
    "remove": lazy_gettext("Removed"), "restore": lazy_gettext("Restored"),
    "lock": lazy_gettext("Locked"), "unlock": lazy_gettext("Unlocked"),
    "pin": lazy_gettext("Pinned"), "unpin": lazy_gettext("Unpinned"), "slow_mode": lazy_gettext("Slow mode"),
    "ban": lazy_gettext("Banned"), "unban": lazy_gettext("Lifted the ban on"),
    "remove_all": lazy_gettext("Removed the posts of"), "appoint": lazy_gettext("Appointed as moderator"),
    "dismiss": lazy_gettext("No longer a moderator"), "suspend": lazy_gettext("Suspended on this instance"),
    "unsuspend": lazy_gettext("Suspension lifted"), "approve_activity": lazy_gettext("Let an activity through"),
    "reject_activity": lazy_gettext("Turned an activity away"),
}
DONE: Final = {
    "approved": lazy_gettext("Approved: it is published now."),
    "rejected": lazy_gettext("Not published. It stays out of view."),
    "member_approved": lazy_gettext("They're in: the request was approved."),
    "member_declined": lazy_gettext("The request was declined."),
    "activity_approved": lazy_gettext("Let through: it will be handled in a moment."),
    "activity_rejected": lazy_gettext("Turned away."),
    "resolved": lazy_gettext("The report is resolved."),
    "forwarded": lazy_gettext("The report was sent to their server. It is still open here."),
    "removed": lazy_gettext("The post was removed. It can be restored from its moderation page."),
    "restored": lazy_gettext("The post is back."),
    "locked": lazy_gettext("The thread is locked."), "unlocked": lazy_gettext("The thread is open again."),
    "pinned": lazy_gettext("The thread is pinned."), "unpinned": lazy_gettext("The thread is no longer pinned."),
    "slow_mode": lazy_gettext("Slow mode is set."),
    "banned": lazy_gettext("The ban is in place."), "unbanned": lazy_gettext("The ban is lifted."),
    "appointed": lazy_gettext("They are a moderator now."),
    "dismissed": lazy_gettext("They are no longer a moderator."),
    "suspended": lazy_gettext("The account is suspended on this instance."),
    "unsuspended": lazy_gettext("The suspension is lifted."),
}


# --- small helpers -------------------------------------------------------------------------------


def _int_param(request: Request, name: str, missing: str) -> int:
    try:
        value = int(request.path_params[name])
    except (KeyError, ValueError):
        raise HTTPException(404, missing) from None
    if not 0 < value < 1 << 63:
        raise HTTPException(404, missing)
    return value


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


async def _site(session):
    return await accounts.get_site(session)


async def _actor_of(session, me: auth.CurrentUser) -> Actor:
    return await session.get(Actor, me.actor.id)


def _visible(post: Post, author: Actor) -> bool:
    return post.state == PUBLISHED and post.visibility in (PUBLIC, UNLISTED) and not author.suspended


async def _reportable(session, viewer: Actor | None, post: Post, author: Actor) -> bool:
    """Public posts, by anyone; a small group's members-only post, by those who may read it.

    Strangers get the same 404 for a members-only post as for a post that does not exist.
    """
    if post.state != PUBLISHED or author.suspended:
        return False
    if post.visibility in (PUBLIC, UNLISTED):
        return True
    return post.visibility == MEMBERS and await small_groups.may_read_post(session, viewer, post)


async def find_person(request: Request, session, handle: str) -> Actor:
    """A person by what a moderator typed: `name` here, or `@name@server` (looked up if new to us)."""
    text = handle.strip()
    settings = request.app.state.settings
    if text.count("@") <= 1 and "@" not in text.lstrip("@"):
        actor = await accounts.local_actor_by_name(session, settings, text.lstrip("@"))
        if actor is None or actor.kind != PERSON:
            raise NotFound(_("There's nobody called %(name)s on this site.", name=text.lstrip('@')))
        return actor
    try:
        name, host = webfinger.parse_handle(text)
    except ValueError:
        raise NotFound(_("Please write a name from here, like quiet_river, or a handle like @name@example.org.")) \
            from None
    if host == settings.domain:
        return await find_person(request, session, name)
    known = await session.scalar(select(Actor).where(Actor.domain == host, Actor.username == name,
                                                     Actor.kind == PERSON, Actor.local.is_(False)))
    if known is not None:
        return known
    try:
        actor = await webfinger.resolve_handle(request.app.state.services, session, text)
    except (webfinger.NotFound, ActorUnavailable) as exc:
        raise NotFound(f"We couldn't find {text}: {getattr(exc, 'reason', exc)}") from None
    if actor.kind != PERSON:
        raise NotFound(f"{text} isn't a person's account.")
    return actor


def _wake_worker(request: Request) -> None:
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.work_available.set()


def _forbidden() -> HTTPException:
    return HTTPException(403, "This page is for the moderators of a community here. If you think you should "
                              "have access, please ask an admin.")


# --- the queue -----------------------------------------------------------------------------------


async def _queue_scope(session, me: auth.CurrentUser, community_name: str | None) -> tuple[list[int] | None, list[Community], Community | None]:
    actor = await _actor_of(session, me)
    ids = await moderation.moderated_community_ids(session, actor)
    if ids is not None and not ids:
        raise _forbidden()
    query = select(Community).where(Community.local.is_(True)).order_by(Community.title)
    if ids is not None:
        query = query.where(Community.id.in_(ids))
    communities = list(await session.scalars(query))
    chosen = None
    if community_name:
        chosen = next((c for c in communities if c.name == community_name.lower()), None)
        if chosen is None:
            raise HTTPException(404, _("You don't moderate a community by that name."))
        ids = [chosen.id]
    return ids, communities, chosen


@auth.login_required
async def queue(request: Request) -> Response:
    return await _queue_page(request)


async def _queue_page(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    me = await auth.current_user(request)
    async with request.app.state.sessions() as session:
        site = await _site(session)
        ids, communities, chosen = await _queue_scope(session, me, request.query_params.get("c"))
        held = await mod_queue.pending_held(session, ids, limit=QUEUE_LIMIT)
        reports = await mod_queue.open_reports(session, ids, limit=QUEUE_LIMIT)
        is_admin = me.is_admin
    urgent = [("held", h) for h in held if h.held.urgent] + [("report", r) for r in reports if r.report.urgent]
    urgent.sort(key=lambda pair: (pair[1].held if pair[0] == "held" else pair[1].report).created_at)
    return render(request, "mod_queue.html", status_code=status_code, site=site, me=me, communities=communities,
                  chosen=chosen, urgent=urgent,
                  posts=[h for h in held if h.held.kind == "post" and not h.held.urgent],
                  joins=[h for h in held if h.held.kind == "follow" and not h.held.urgent],
                  activities=[h for h in held if h.held.kind == "activity" and not h.held.urgent],
                  translations=[h for h in held if h.held.kind == "translation" and not h.held.urgent],
                  reports=[r for r in reports if not r.report.urgent], categories=CATEGORIES,
                  is_admin=is_admin, done=_done(request), error=error, limit=QUEUE_LIMIT)


def _back_to_queue(request: Request, form: FormData, done: str) -> Response:
    community = text_field(form, "c", 255).strip()
    where = "/mod?" + (f"c={quote(community)}&" if community else "") + f"done={done}"
    return redirect(request, where)


@auth.login_required
async def decide_held(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    me = await auth.current_user(request)
    held_id = _int_param(request, "held_id", _("That item isn't in the queue any more."))
    action = text_field(form, "action", 16).strip()
    if action not in ("approve", "reject"):
        raise HTTPException(400, _("Please choose to approve or not."))
    try:
        async with db.transaction(request.app.state.sessions) as session:
            held = await moderation.decide_held(session, request.app.state.settings, await _actor_of(session, me),
                                                held_id, approve=action == "approve", reason=text_field(form, "reason", MAX_REPORT_TEXT).strip())
            kind = held.kind
    except moderation.NotAllowed:
        raise _forbidden() from None
    except DomainError as exc:
        return await _queue_page(request, error=str(exc), status_code=409)
    _wake_worker(request)
    done = {"follow": "member_", "activity": "activity_"}.get(kind, "") + ("approved" if action == "approve" else
                                                                          ("declined" if kind == "follow" else "rejected"))
    return _back_to_queue(request, form, done)


@auth.login_required
async def handle_report(request: Request) -> Response:
    form = await auth.csrf_protect(request)
    me = await auth.current_user(request)
    report_id = _int_param(request, "report_id", _("We couldn't find that report."))
    action = text_field(form, "action", 16).strip()
    settings = request.app.state.settings
    try:
        async with db.transaction(request.app.state.sessions) as session:
            actor = await _actor_of(session, me)
            if action == "resolve":
                await reports.resolve_report(session, actor, report_id, text_field(form, "resolution", MAX_REPORT_TEXT).strip())
            elif action == "forward":
                await reports.forward_report(session, settings, actor, report_id, text_field(form, "comment", MAX_REPORT_TEXT).strip())
            else:
                raise HTTPException(400, _("Please choose what to do with the report."))
    except DomainError as exc:
        return await _queue_page(request, error=str(exc), status_code=409)
    _wake_worker(request)
    return _back_to_queue(request, form, "resolved" if action == "resolve" else "forwarded")


# --- one post -----------------------------------------------------------------------------------


async def _post_for_moderator(session, me: auth.CurrentUser, post_id: int):
    row = (await session.execute(select(Post, Actor).join(Actor, Actor.id == Post.author_id)
                                 .where(Post.id == post_id))).first()
    if row is None:
        raise HTTPException(404, _("We couldn't find that post."))
    post, author = row
    community = await moderation.community_of(session, post)
    actor = await _actor_of(session, me)
    if not await moderation.may_moderate(session, actor, community):
        raise _forbidden()
    thread = post if post.is_thread else (await session.get(Post, post.thread_id) if post.thread_id else None)
    return post, author, community, thread, actor


@auth.login_required
async def moderate_post(request: Request) -> Response:
    me = await auth.current_user(request)
    post_id = _int_param(request, "post_id", _("We couldn't find that post."))
    settings = request.app.state.settings
    error = None
    if request.method == "POST":
        form = await auth.csrf_protect(request)
        action = text_field(form, "action", 16).strip()
        reason = text_field(form, "reason", MAX_REPORT_TEXT).strip()
        try:
            async with db.transaction(request.app.state.sessions) as session:
                post, author, community, thread, actor = await _post_for_moderator(session, me, post_id)
                done = await _post_action(session, settings, actor, post, author, action, reason, form)
        except moderation.NotAllowed:
            raise _forbidden() from None
        except DomainError as exc:
            error = str(exc)
        else:
            _wake_worker(request)
            if text_field(form, "next", 8).strip() == "queue":
                return _back_to_queue(request, form, done)
            return redirect(request, f"/p/{post_id}/moderate?done={done}")
    async with request.app.state.sessions() as session:
        site = await _site(session)
        post, author, community, thread, actor = await _post_for_moderator(session, me, post_id)
        held = post.state == HELD
        # Who is behind a pseudonym: this page is for the community's moderators and admins only.
        behind = await pseudonyms.owner_for_moderator(session, actor, author, community)
    response = render(request, "mod_post.html", status_code=400 if error else 200, site=site, me=me, post=post,
                      author=author, community=community, thread=thread, held=held, error=error,
                      done=_done(request), slow_modes=SLOW_MODES, is_admin=me.is_admin, behind=behind)
    if behind is not None:
        response.headers["Cache-Control"] = "private, no-store"
    return response


async def _post_action(session, settings, actor: Actor, post: Post, author: Actor, action: str, reason: str,
                       form: FormData) -> str:
    if action == "remove":
        await moderation.remove_post(session, settings, actor, post, reason)
        return "removed"
    if action == "restore":
        await moderation.restore_post(session, settings, actor, post, reason)
        return "restored"
    if action in ("lock", "unlock"):
        await moderation.lock_thread(session, settings, actor, post, locked=action == "lock", reason=reason)
        return action + "ed"
    if action in ("pin", "unpin"):
        await moderation.pin_thread(session, settings, actor, post, pinned=action == "pin")
        return action + "ned"
    if action == "slow_mode":
        try:
            seconds = int(text_field(form, "seconds", 8).strip() or "0")
        except ValueError:
            seconds = -1
        if seconds not in SLOW_MODES:
            raise DomainError(_("Please choose one of the slow mode settings."))
        await moderation.set_slow_mode(session, actor, post, seconds, reason)
        return "slow_mode"
    if action in ("suspend", "unsuspend"):
        await moderation.suspend(session, actor, author, reason, suspended=action == "suspend")
        return action + "ed"
    raise DomainError(_("Please choose one of the actions on this page."))


# --- a community's moderators and bans ------------------------------------------------------------


async def _community_for_moderator(session, me: auth.CurrentUser, name: str):
    community = await accounts.community_by_name(session, name)
    if community is None:
        raise HTTPException(404, _("We couldn't find that community."))
    actor = await _actor_of(session, me)
    if not await moderation.may_moderate(session, actor, community):
        raise _forbidden()
    return community, actor


@auth.login_required
async def community_moderation(request: Request) -> Response:
    me = await auth.current_user(request)
    name = request.path_params["name"].lower()
    settings = request.app.state.settings
    errors: dict[str, str] = {}
    values: dict[str, str] = {"ban_handle": request.query_params.get("ban", "")[:300]}
    status_code = 200
    if request.method == "POST":
        form = await auth.csrf_protect(request)
        action = text_field(form, "action", 16).strip()
        values = {k: text_field(form, k, 2000).strip() for k in ("appoint_handle", "ban_handle", "ban_reason", "ban_length")}
        try:
            async with db.transaction(request.app.state.sessions) as session:
                community, actor = await _community_for_moderator(session, me, name)
                done = await _community_action(request, session, settings, actor, community, action, form, errors)
        except moderation.NotAllowed as exc:
            errors.setdefault("appoint_handle" if action in ("appoint", "dismiss") else "ban_handle", str(exc))
        except DomainError as exc:
            errors.setdefault("appoint_handle" if action in ("appoint", "dismiss") else "ban_handle", str(exc))
        if not errors:
            _wake_worker(request)
            return redirect(request, f"/c/{name}/moderation?done={done}")
        status_code = 400
    async with request.app.state.sessions() as session:
        site = await _site(session)
        community, actor = await _community_for_moderator(session, me, name)
        moderators = await moderation.moderators_of(session, community)
        bans = await moderation.bans_of(session, community)
        removed = await moderation.recently_removed(session, community)
        may_manage = await moderation.may_manage_moderators(session, actor, community)
    return render(request, "mod_community.html", status_code=status_code, site=site, me=me, community=community,
                  moderators=moderators, bans=bans, removed=removed, may_manage=may_manage, errors=errors, values=values,
                  ban_lengths=BAN_LENGTHS, done=_done(request))


async def _community_action(request: Request, session, settings, actor: Actor, community: Community, action: str,
                            form: FormData, errors: dict[str, str]) -> str:
    if action in ("appoint", "dismiss"):
        handle = text_field(form, "appoint_handle" if action == "appoint" else "handle", 300).strip()
        if not handle:
            errors["appoint_handle"] = _("Please write the name of the person to appoint.")
            return ""
        person = await find_person(request, session, handle)
        if action == "appoint":
            await moderation.appoint(session, settings, actor, community, person)
            return "appointed"
        await moderation.dismiss(session, settings, actor, community, person)
        return "dismissed"
    if action in ("ban", "unban"):
        handle = text_field(form, "ban_handle" if action == "ban" else "handle", 300).strip()
        if not handle:
            errors["ban_handle"] = _("Please write the name of the person to ban.")
            return ""
        person = await find_person(request, session, handle)
        if action == "unban":
            if not await moderation.unban(session, settings, actor, community, person, text_field(form, "reason", MAX_REPORT_TEXT).strip()):
                raise DomainError(f"{person.handle} isn't banned here.")
            return "unbanned"
        length = text_field(form, "ban_length", 4).strip()
        if length not in BAN_LENGTHS:
            errors["ban_length"] = _("Please choose how long the ban lasts.")
            return ""
        span = BAN_LENGTHS[length][1]
        await moderation.ban(session, settings, actor, community, person, text_field(form, "ban_reason", MAX_REPORT_TEXT).strip(),
                             expires_at=utcnow() + span if span else None,
                             remove_data=text_field(form, "remove_data", 4).strip() == "yes")
        return "banned"
    raise DomainError(_("Please choose one of the actions on this page."))


# --- suspended accounts (admins) ------------------------------------------------------------------


@auth.admin_required
async def accounts_page(request: Request) -> Response:
    me = await auth.current_user(request)
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        form = await auth.csrf_protect(request)
        action = text_field(form, "action", 16).strip()
        values = {"handle": text_field(form, "handle", 300).strip(), "reason": text_field(form, "reason", MAX_REPORT_TEXT).strip()}
        try:
            async with db.transaction(request.app.state.sessions) as session:
                person = await find_person(request, session, values["handle"])
                await moderation.suspend(session, await _actor_of(session, me), person, values["reason"],
                                         suspended=action != "unsuspend")
        except DomainError as exc:
            errors["handle"] = str(exc)
        else:
            return redirect(request, "/mod/accounts?done=" + ("unsuspended" if action == "unsuspend" else "suspended"))
    async with request.app.state.sessions() as session:
        site = await _site(session)
        suspended = await moderation.suspended_accounts(session)
    return render(request, "mod_accounts.html", status_code=400 if errors else 200, site=site, me=me,
                  suspended=suspended, errors=errors, values=values, done=_done(request))


# --- reports from readers ----------------------------------------------------------------------------


def _report_throttle(request: Request) -> auth.LoginThrottle:
    throttle = getattr(request.app.state, "report_throttle", None)
    if throttle is None:
        throttle = request.app.state.report_throttle = auth.LoginThrottle(limit=ANONYMOUS_REPORTS_PER_ADDRESS,
                                                                          window=3600)
    return throttle


async def _too_many(request: Request, session, reporter: Actor | None) -> bool:
    since = utcnow() - dt.timedelta(hours=1)
    if reporter is not None:
        return await reports.reports_since(session, reporter, since) >= REPORTS_PER_HOUR
    if _report_throttle(request).wait_seconds(auth.throttle_key(request, "report")):
        return True
    return await reports.reports_since(session, None, since) >= ANONYMOUS_REPORTS_PER_HOUR


async def _report_target(request: Request, session, viewer: Actor | None) -> tuple[Post | None, Actor]:
    if "post_id" in request.path_params:
        post_id = _int_param(request, "post_id", _("We couldn't find that post. It may have been removed."))
        row = (await session.execute(select(Post, Actor).join(Actor, Actor.id == Post.author_id)
                                     .where(Post.id == post_id))).first()
        if row is None or not await _reportable(session, viewer, *row):
            raise HTTPException(404, _("We couldn't find that post. It may have been removed."))
        return row[0], row[1]
    person = await accounts.local_actor_by_name(session, request.app.state.settings, request.path_params["name"])
    if person is None or person.kind != PERSON or person.deleted_at is not None or person.suspended \
            or await accounts.awaiting_approval(session, person):
        raise HTTPException(404, _("We couldn't find that person."))
    return None, person


async def report(request: Request) -> Response:
    """Report a post or an account. Signed in or not (see the module's note)."""
    me = await auth.current_user(request)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    status_code = 200
    if request.method == "POST":
        form = await auth.csrf_protect(request)
        values = {"category": text_field(form, "category", 16).strip(), "reason": text_field(form, "reason", MAX_REPORT_TEXT + 1).strip()}
        if values["category"] not in CATEGORIES:
            errors["category"] = _("Please choose what worries you.")
        if len(values["reason"]) > MAX_REPORT_TEXT:
            errors["reason"] = _("Please keep this to %(max)s characters or fewer.", max=MAX_REPORT_TEXT)
        if not errors:
            async with db.transaction(request.app.state.sessions) as session:
                reporter = await _actor_of(session, me) if me else None
                post, target = await _report_target(request, session, reporter)
                if await _too_many(request, session, reporter):
                    errors["reason"] = ("You've sent several reports in a short time, so we've paused reporting for "
                                        "a little while. If someone is in danger right now, please contact your "
                                        "local emergency number.")
                    status_code = 429
                else:
                    await reports.create_report(session, reporter=reporter, post=post, target=None if post else target,
                                                   reason=values["reason"], category=values["category"])
                    if reporter is None:
                        throttle = _report_throttle(request)
                        throttle.failed(auth.throttle_key(request, "report"))
            if not errors:
                return redirect(request, request.url.path + "?sent=" + ("welfare" if values["category"] == "welfare"
                                                                         else "1"))
        status_code = status_code if status_code != 200 else 400
    async with request.app.state.sessions() as session:
        site = await _site(session)
        post, target = await _report_target(request, session, await _actor_of(session, me) if me else None)
    response = render(request, "mod_report.html", status_code=status_code, site=site, me=me, post=post,
                      target=target, values=values, errors=errors, categories=CATEGORIES,
                      sent=request.query_params.get("sent"), max_text=MAX_REPORT_TEXT)
    if post is not None and post.visibility == MEMBERS:
        response.headers["Cache-Control"] = "private, no-store"  # names a members-only post: for this reader only
    return response


# --- the modlog --------------------------------------------------------------------------------------


async def modlog(request: Request) -> Response:
    await auth.current_user(request)
    name = request.path_params.get("name")
    cursor = decode_cursor(request.query_params.get("before"))
    async with request.app.state.sessions() as session:
        site = await _site(session)
        community = None
        if name is not None:
            community = await accounts.community_by_name(session, name)
            if community is None:
                raise HTTPException(404, _("We couldn't find that community."))
        entries, more = await mod_queue.modlog_page(session, community_id=community.id if community else None,
                                                     before=cursor, limit=MODLOG_PAGE)
        authors = {}
        for entry in entries:
            for post in (entry.post, entry.thread):
                if post is not None and post.author_id not in authors:
                    authors[post.author_id] = await session.get(Actor, post.author_id)
    rows = [_log_row(entry, authors) for entry in entries]
    older = None
    if more and entries:
        last = entries[-1].action
        older = request.url.path + "?before=" + encode_cursor(last.created_at, last.id)
    return render(request, "mod_log.html", site=site, community=community, rows=rows, older=older,
                  first_page=cursor is None)


def _log_row(entry: mod_queue.LogEntry, authors: dict[int, Actor]) -> dict[str, Any]:
    """What the public sees of one action: never removed text, never a reporter or a moderator."""
    action = entry.action
    post, thread = entry.post, entry.thread
    about: dict[str, Any] = {"person": entry.target, "post_label": None, "post_href": None}
    if post is not None:
        author = authors.get(post.author_id)
        shown = author is not None and _visible(post, author)
        thread_shown = thread is not None and thread.state == PUBLISHED and thread.visibility in (PUBLIC, UNLISTED)
        if post.is_thread:
            about["post_label"] = _("the thread “%(title)s”", title=post.title) if shown and post.title else _("a thread")
        elif thread_shown and thread.title:
            about["post_label"] = _("a reply in “%(title)s”", title=thread.title)
        else:
            about["post_label"] = _("a reply")
        if shown:
            about["post_href"] = f"/p/{post.id}"
        if post.visibility == MEMBERS:
            # Who writes in a small group is for its members to know: its posts' authors go unnamed.
            if about["person"] is not None and about["person"].id == post.author_id:
                about["person"] = None
        elif about["person"] is None:
            about["person"] = author
    return {"action": action, "words": ACTION_WORDS.get(action.action, action.action.replace("_", " ")),
            "community": entry.community, "about": about, "when": action.created_at,
            "until": action.expires_at if action.action == "ban" else None}


def routes() -> list[Route]:
    return [
        Route("/mod", queue, name="mod_queue"),
        Route("/mod/held/{held_id}", decide_held, methods=["POST"], name="mod_decide_held"),
        Route("/mod/reports/{report_id}", handle_report, methods=["POST"], name="mod_report_action"),
        Route("/mod/accounts", accounts_page, methods=["GET", "POST"], name="mod_accounts"),
        Route("/p/{post_id}/moderate", moderate_post, methods=["GET", "POST"], name="mod_post"),
        Route("/p/{post_id}/report", report, methods=["GET", "POST"], name="report_post"),
        Route("/u/{name}/report", report, methods=["GET", "POST"], name="report_person"),
        Route("/c/{name}/moderation", community_moderation, methods=["GET", "POST"], name="mod_community"),
        Route("/c/{name}/modlog", modlog, name="community_modlog"),
        Route("/modlog", modlog, name="modlog"),
    ]
