"""How other servers find us and read our actors: WebFinger, host-meta, NodeInfo, actor JSON.

`/u/{name}` and `/c/{name}` serve people and communities both ways: ActivityStreams JSON when
the client asks for it, the HTML page otherwise (`Vary: Accept` on both). These routes are
listed before `pages.routes()` so they win for the shared paths.

Every ActivityStreams document leaves through `ap_response`; discovery documents (WebFinger,
host-meta, NodeInfo) do not, because peers fetch them unsigned before they know anything else.
"""
from __future__ import annotations

import json
import re
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activitypub import render
from ..activitypub.origin import host_of, normalize_host
from ..domain import accounts
from ..models import APPLICATION, GROUP, PERSON, Actor, Community, Membership, OutboxActivity, Post, User, utcnow
from ..models.content import PUBLIC, PUBLISHED, UNLISTED
from ..models.social import MODERATOR, OWNER
from ..settings import Settings
from . import pages
from .negotiation import ActivityJSONResponse, vary_accept, wants_activitypub
from .signed_fetch import check_signed_get

# Actors change rarely and peers refetch them often; a few minutes of caching spares us both.
ACTOR_CACHE: Final = "public, max-age=180"
COLLECTION_CACHE: Final = "public, max-age=60"
WEBFINGER_CACHE: Final = "public, max-age=3600"
# Short, so a new account or community is found soon after a miss.
WEBFINGER_MISS_CACHE: Final = "public, max-age=180"
NODEINFO_CACHE_SECONDS: Final = 300
MAX_RESOURCE_LENGTH: Final = 1024
# Pinned threads are a handful; the cap keeps the document small whatever happens.
MAX_FEATURED: Final = 50
JRD_TYPE: Final = "application/jrd+json"
CORS: Final = {"Access-Control-Allow-Origin": "*"}

_ACTOR_PATH = re.compile(r"^/(u|c)/([^/]+)$")


# --- the one way out for ActivityStreams JSON ------------------------------------------------


async def ap_response(
    request: Request, document: dict[str, Any], status: int = 200, *,
    cache_control: str = ACTOR_CACHE, negotiated: bool = False, public: bool = False,
) -> Response:
    """Send an ActivityStreams document. Every ActivityPub GET handler answers through here.

    With authorized fetch on, only `public` documents (actors, which carry our keys) go out
    without a verified signature. `negotiated` marks URLs that also serve HTML, which need
    `Vary: Accept` so caches keep the two answers apart.
    """
    if _settings(request).authorized_fetch and not public:
        refused = await check_signed_get(request)
        if refused is not None:
            return refused
        # An answer meant for one signed requester must not be served from a shared cache.
        cache_control = "private, " + cache_control.replace("public, ", "")
    response = ActivityJSONResponse(document, status_code=status)
    response.headers["Cache-Control"] = cache_control
    return vary_accept(response) if negotiated else response


async def _gone(request: Request, actor: Actor, *, negotiated: bool = False) -> Response:
    """410 with the actor's Tombstone (on its collections too: everything under it is gone)."""
    # Public even under authorized fetch: peers must be able to learn that an actor is gone.
    return await ap_response(request, render.tombstone_document(actor), 410, negotiated=negotiated, public=True)


# --- loading local actors ---------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _person(session: AsyncSession, settings: Settings, name: str) -> Actor | None:
    actor = await accounts.local_actor_by_name(session, settings, name)
    if actor is None or actor.kind != PERSON or await accounts.awaiting_approval(session, actor):
        return None
    return actor


async def _community(session: AsyncSession, name: str) -> tuple[Actor, Community] | None:
    row = (await session.execute(
        select(Actor, Community).join(Community, Community.actor_id == Actor.id)
        .where(Community.local.is_(True), Community.name == name.lower(), Actor.local.is_(True))
    )).first()
    return (row[0], row[1]) if row else None


async def _instance_actor(session: AsyncSession, settings: Settings) -> Actor | None:
    actor = await accounts.local_actor_by_name(session, settings, accounts.INSTANCE_ACTOR_USERNAME)
    return actor if actor is not None and actor.kind == APPLICATION else None


async def _load_person(request: Request) -> Actor:
    async with request.app.state.sessions() as session:
        actor = await _person(session, _settings(request), request.path_params["name"])
    if actor is None:
        raise HTTPException(404, "We couldn't find that person.")
    return actor


async def _load_community(request: Request) -> tuple[Actor, Community]:
    async with request.app.state.sessions() as session:
        found = await _community(session, request.path_params["name"])
    if found is None:
        raise HTTPException(404, "We couldn't find that community.")
    return found


# --- actors -----------------------------------------------------------------------------------


async def instance_actor(request: Request) -> Response:
    """/actor: the Application that signs our fetches and reports. JSON only."""
    settings = _settings(request)
    async with request.app.state.sessions() as session:
        actor = await _instance_actor(session, settings)
    if actor is None:
        raise HTTPException(404, "This instance has not been set up yet.")
    return await ap_response(request, render.actor_document(settings, actor), public=True)


async def instance_outbox(request: Request) -> Response:
    """/actor/outbox: the instance actor publishes nothing, and says so."""
    return await ap_response(request, render.ordered_collection(_settings(request).url("/actor/outbox"), 0, items=[]),
                             cache_control=COLLECTION_CACHE)


async def person(request: Request) -> Response:
    """/u/{name}: a local person, as JSON for servers and as a profile page for people."""
    if not wants_activitypub(request):
        return vary_accept(await person_page(request))
    actor = await _load_person(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor, negotiated=True)
    return await ap_response(request, render.actor_document(_settings(request), actor), negotiated=True, public=True)


async def person_page(request: Request) -> Response:
    """The HTML profile of a local person: who they are, and nothing they wrote.

    Posts stay in their communities; a profile that gathered someone's support posts in one
    place would expose more than they chose to share in each.
    """
    actor = await _load_person(request)
    if actor.deleted_at is not None:
        raise HTTPException(410, "This account has been deleted.")
    if actor.suspended:
        raise HTTPException(410, "This account isn't available.")
    async with request.app.state.sessions() as session:
        site = await accounts.get_site(session)
    return pages.render(request, "person.html", site=site, person=actor,
                        about_html=render.plain_paragraphs(actor.summary or ""))


async def community(request: Request) -> Response:
    """/c/{name}: a community's Group as JSON for servers, its page of threads for people."""
    if not wants_activitypub(request):
        return vary_accept(await pages.community_page(request))
    actor, row = await _load_community(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor, negotiated=True)
    return await ap_response(request, render.actor_document(_settings(request), actor, row), negotiated=True,
                             public=True)


# --- collections ------------------------------------------------------------------------------


async def _count_only(request: Request, actor: Actor, name: str, count_attr: str) -> Response:
    """A collection that says how many, never who; empty for suspended actors, gone for deleted."""
    if actor.deleted_at is not None:
        return await _gone(request, actor)
    total = 0 if actor.suspended else getattr(actor, count_attr)
    return await ap_response(request, render.count_only_collection(render.collection_id(actor, name), total),
                             cache_control=COLLECTION_CACHE)


async def person_followers(request: Request) -> Response:
    """How many follow this person; never who (followers of a support account are private)."""
    return await _count_only(request, await _load_person(request), "followers", "follower_count")


async def person_following(request: Request) -> Response:
    """How many this person follows; never whom."""
    return await _count_only(request, await _load_person(request), "following", "following_count")


async def person_outbox(request: Request) -> Response:
    """A person's outbox; see `_outbox` for what it holds so far."""
    actor = await _load_person(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor)
    return await _outbox(request, actor, 0 if actor.suspended else actor.post_count)


async def community_followers(request: Request) -> Response:
    """How many follow the community, as Lemmy shows it; members are never listed."""
    actor, _ = await _load_community(request)
    return await _count_only(request, actor, "followers", "follower_count")


async def community_moderators(request: Request) -> Response:
    """The Group's `attributedTo`: owners first, then moderators, in order of appointment.

    Public on purpose: peers accept moderation activities only from actors listed here.
    """
    actor, row = await _load_community(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor)
    items: list[str] = []
    if not actor.suspended:
        async with request.app.state.sessions() as session:
            items = list(await session.scalars(
                select(Actor.ap_id).join(Membership, Membership.actor_id == Actor.id)
                .where(Membership.community_id == row.id, Membership.role.in_((OWNER, MODERATOR)),
                       Actor.deleted_at.is_(None), Actor.suspended.is_(False))
                .order_by(case((Membership.role == OWNER, 0), else_=1), Membership.created_at, Membership.id)
            ))
    doc = render.ordered_collection(render.collection_id(actor, "moderators"), len(items), items=items)
    return await ap_response(request, doc, cache_control=COLLECTION_CACHE)


async def community_featured(request: Request) -> Response:
    """The Group's `featured`: ids of its pinned public threads, newest first."""
    actor, _ = await _load_community(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor)
    items: list[str] = []
    if not actor.suspended:
        async with request.app.state.sessions() as session:
            items = list(await session.scalars(
                select(Post.ap_id)
                .where(Post.community_id == actor.id, Post.is_thread.is_(True), Post.pinned.is_(True),
                       Post.state == PUBLISHED, Post.visibility == PUBLIC)
                .order_by(Post.published_at.desc(), Post.id.desc())
                .limit(MAX_FEATURED)
            ))
    doc = render.ordered_collection(render.collection_id(actor, "featured"), len(items), items=items)
    return await ap_response(request, doc, cache_control=COLLECTION_CACHE)


async def community_outbox(request: Request) -> Response:
    """A community's outbox; see `_outbox` for what it holds so far."""
    actor, row = await _load_community(request)
    if actor.deleted_at is not None:
        return await _gone(request, actor)
    # A small group's threads are members-only: its outbox shows none and counts none.
    return await _outbox(request, actor, 0 if actor.suspended or row.members_only else row.thread_count)


OUTBOX_ITEMS = 20


async def _recent_activities(request: Request, actor: Actor) -> list[dict[str, Any]]:
    """The actor's latest published threads as the activities that carried them, newest first.

    A community's are its Announces of Creates of threads (what Lemmy reads to backfill a
    community it starts following); a person's are their Creates. Only activities we really
    sent, served as sent.
    """
    wanted = "Announce" if actor.kind == GROUP else "Create"
    async with request.app.state.sessions() as session:
        bodies = list(await session.scalars(
            select(OutboxActivity.body).where(OutboxActivity.actor_id == actor.id, OutboxActivity.type == wanted)
            .order_by(OutboxActivity.created_at.desc(), OutboxActivity.id.desc()).limit(OUTBOX_ITEMS * 3)))
    candidates = []
    for body in bodies:
        doc = json.loads(body)
        inner = doc.get("object") if wanted == "Announce" else doc
        note = inner.get("object") if isinstance(inner, dict) else None
        if not isinstance(inner, dict) or inner.get("type") != "Create" or not isinstance(note, dict):
            continue
        if note.get("inReplyTo") or doc.get("to") == []:
            continue
        doc.pop("@context", None)
        candidates.append((note.get("id"), doc))
    # Threads removed, deleted or held since are no longer listed; members-only ones never are.
    async with request.app.state.sessions() as session:
        shown = set(await session.scalars(select(Post.ap_id).where(
            Post.ap_id.in_([note_id for note_id, _ in candidates]), Post.state == PUBLISHED,
            Post.visibility.in_((PUBLIC, UNLISTED)))))
    return [doc for note_id, doc in candidates if note_id in shown][:OUTBOX_ITEMS]


async def _outbox(request: Request, actor: Actor, total: int) -> Response:
    """An actor's outbox: how many posts, and the latest threads inline (Lemmy reads only these)."""
    outbox_id = actor.outbox_url or render.collection_id(actor, "outbox")
    items = [] if actor.suspended else await _recent_activities(request, actor)
    doc = render.ordered_collection(outbox_id, total, items=items)
    return await ap_response(request, doc, cache_control=COLLECTION_CACHE)


# --- WebFinger and host-meta ------------------------------------------------------------------


class BadResource(ValueError):
    """A WebFinger `resource` we can't read at all (400); the message says why."""


@dataclass(frozen=True)
class Lookup:
    """Who a WebFinger resource names: a kind (None: a person or a community) and a name."""

    kind: str | None
    name: str = ""


def parse_resource(resource: str, settings: Settings) -> Lookup | None:
    """Read a WebFinger resource; None when it names something that is not ours.

    Accepts `acct:name@domain` (also without `acct:`, as Mastodon does), `acct:domain@domain`
    and `https://domain/` for the instance actor (FEP-d556), and the URL of a local actor.
    """
    if not resource:
        raise BadResource("the resource parameter is missing: ask for acct:name@domain")
    if len(resource) > MAX_RESOURCE_LENGTH:
        raise BadResource("the resource is too long")
    scheme, colon, rest = resource.partition(":")
    # In a bare name@host:port the first colon belongs to the host, not to a scheme.
    has_scheme = bool(colon) and "@" not in scheme
    if has_scheme and scheme.lower() in ("http", "https"):
        return _parse_url(resource, settings)
    if has_scheme and scheme.lower() == "acct":
        account = rest
    elif not has_scheme and "@" in resource and "/" not in resource:
        account = resource
    else:
        raise BadResource("the resource must be acct:name@domain or an https URL of this server")
    name, at, host = unquote(account.removeprefix("@")).rpartition("@")
    if not at or not name or not host:
        raise BadResource("an acct: resource needs a name and a domain, like acct:name@domain")
    if not _is_our_host(host, settings):
        return None
    if name.lower() == settings.domain:
        return Lookup(APPLICATION)
    return Lookup(None, name)


def _parse_url(resource: str, settings: Settings) -> Lookup | None:
    try:
        host = host_of(resource)
    except ValueError as exc:
        raise BadResource(f"the resource is not a usable URL: {exc}") from None
    if host != normalize_host(settings.domain):
        return None
    path = urlsplit(resource).path
    if path in ("", "/", "/actor"):
        return Lookup(APPLICATION)
    match = _ACTOR_PATH.match(path)
    if match is None:
        return None
    return Lookup(PERSON if match[1] == "u" else GROUP, unquote(match[2]))


def _is_our_host(host: str, settings: Settings) -> bool:
    try:
        return normalize_host(host) == normalize_host(settings.domain)
    except ValueError:
        return False


async def _find(session: AsyncSession, settings: Settings, lookup: Lookup) -> Actor | None:
    if lookup.kind == APPLICATION:
        return await _instance_actor(session, settings)
    actor = await accounts.local_actor_by_name(session, settings, lookup.name)
    # The instance actor's stored name is internal; it is found by the domain only.
    if actor is None or actor.kind == APPLICATION or (lookup.kind and actor.kind != lookup.kind):
        return None
    if await accounts.awaiting_approval(session, actor):
        return None
    return actor


def _jrd(body: Any, status: int = 200, cache_control: str = WEBFINGER_CACHE, media_type: str = JRD_TYPE) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(content, status_code=status, media_type=media_type,
                    headers={**CORS, "Cache-Control": cache_control})


def _jrd_error(status: int, reason: str) -> Response:
    return _jrd({"error": reason}, status, WEBFINGER_MISS_CACHE, "application/json")


async def webfinger(request: Request) -> Response:
    """/.well-known/webfinger?resource=…: from a handle or URL to the actor (RFC 7033)."""
    settings = _settings(request)
    try:
        lookup = parse_resource(request.query_params.get("resource", "").strip(), settings)
    except BadResource as exc:
        return _jrd_error(400, str(exc))
    actor = None
    if lookup is not None:
        async with request.app.state.sessions() as session:
            actor = await _find(session, settings, lookup)
    if actor is None:
        return _jrd_error(404, "nobody here goes by that name")
    if actor.deleted_at is not None:
        # Only for deletion: Mastodon deletes its copy of an account whose WebFinger is gone, so a
        # suspended (and perhaps restored) actor keeps answering 200.
        return _jrd_error(410, "that account has been deleted")
    rels = request.query_params.getlist("rel")
    return _jrd(render.webfinger_document(settings, actor, rels))


async def host_meta(request: Request) -> Response:
    """/.well-known/host-meta: the XRD template that leads older clients to WebFinger."""
    return Response(render.host_meta(_settings(request)), media_type="application/xrd+xml",
                    headers={**CORS, "Cache-Control": WEBFINGER_CACHE})


# --- NodeInfo ---------------------------------------------------------------------------------


async def nodeinfo_links(request: Request) -> Response:
    """/.well-known/nodeinfo: where our NodeInfo documents are."""
    return _jrd(render.nodeinfo_links(_settings(request)), media_type="application/json")


async def nodeinfo(request: Request) -> Response:
    """/nodeinfo/2.1 and /nodeinfo/2.0: software, protocols and real usage counts."""
    version = request.path_params["version"]
    if version not in render.NODEINFO_VERSIONS:
        raise HTTPException(404, "We couldn't find that page.")
    documents = await _nodeinfo_documents(request)
    profile = render.NODEINFO_SCHEMA.format(version=version) + "#"
    return _jrd(documents[version], cache_control=f"public, max-age={NODEINFO_CACHE_SECONDS}",
                media_type=f'application/json; profile="{profile}"')


async def _nodeinfo_documents(request: Request) -> dict[str, dict[str, Any]]:
    """Both NodeInfo versions, counted at most once every NODEINFO_CACHE_SECONDS per process."""
    state = request.app.state
    cached = getattr(state, "nodeinfo_cache", None)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    settings = _settings(request)
    async with state.sessions() as session:
        site = await accounts.get_site(session)
        usage = await count_usage(session)
        documents = {v: render.nodeinfo_document(settings, site, usage, v) for v in render.NODEINFO_VERSIONS}
    state.nodeinfo_cache = (now + NODEINFO_CACHE_SECONDS, documents)
    return documents


def forget_nodeinfo(app: Starlette) -> None:
    """Drop the cached NodeInfo, so the next request counts afresh (after site settings change)."""
    app.state.nodeinfo_cache = None


# Who counts as a user: approved logins whose account is neither deleted nor suspended.
_COUNTED_USERS = (User.approved.is_(True), Actor.deleted_at.is_(None), Actor.suspended.is_(False))


async def count_usage(session: AsyncSession) -> render.Usage:
    """NodeInfo's usage numbers, from the tables. Active = logged in or posted here within the window."""
    now = utcnow()

    async def users(since: dt.datetime | None = None) -> int:
        query = select(func.count(User.id)).join(Actor, Actor.id == User.actor_id).where(*_COUNTED_USERS)
        if since is not None:
            posted = (select(Post.id)
                      .where(Post.author_id == User.actor_id, Post.local.is_(True), Post.published_at >= since)
                      .exists())
            query = query.where(or_(User.last_login_at >= since, posted))
        return await session.scalar(query) or 0

    local_posts = await session.scalar(
        select(func.count(Post.id)).where(Post.local.is_(True), Post.state == PUBLISHED,
                                          Post.visibility.in_((PUBLIC, UNLISTED)))
    ) or 0
    return render.Usage(
        users=await users(),
        active_month=await users(now - dt.timedelta(days=30)),
        active_halfyear=await users(now - dt.timedelta(days=180)),
        local_posts=local_posts,
    )


def routes() -> list[Route]:
    """Discovery and ActivityPub GET routes; list them before pages.routes() (first match wins)."""
    return [
        Route("/.well-known/webfinger", webfinger, name="webfinger"),
        Route("/.well-known/host-meta", host_meta, name="host_meta"),
        Route("/.well-known/nodeinfo", nodeinfo_links, name="nodeinfo_links"),
        Route("/nodeinfo/{version}", nodeinfo, name="nodeinfo"),
        Route("/actor", instance_actor, name="instance_actor"),
        Route("/actor/outbox", instance_outbox, name="instance_outbox"),
        Route("/u/{name}", person, name="person"),
        Route("/u/{name}/followers", person_followers, name="person_followers"),
        Route("/u/{name}/following", person_following, name="person_following"),
        Route("/u/{name}/outbox", person_outbox, name="person_outbox"),
        Route("/c/{name}", community, name="community"),
        Route("/c/{name}/followers", community_followers, name="community_followers"),
        Route("/c/{name}/moderators", community_moderators, name="community_moderators"),
        Route("/c/{name}/featured", community_featured, name="community_featured"),
        Route("/c/{name}/outbox", community_outbox, name="community_outbox"),
    ]
