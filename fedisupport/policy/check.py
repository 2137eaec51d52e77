"""The one decision point: what this instance accepts, holds, rejects or labels, and why.

Three checkpoints call it:

- `check_inbound` — a post, like or follow arriving from another server (inbox worker);
- `check_local` — a thread or reply written here (domain/actions.py);
- `check_delivery` — an inbox we are about to queue something for (outbox/publish.py).

Reasons of local REJECTs are shown to the person writing, so they are kind and say what to do;
every other reason is for moderators and logs. Policy reads only; callers act on the Decision.
"""
from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from html.parser import HTMLParser

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..activitypub.origin import host_of
from ..db import batch_memo
from ..activitypub.vocab import APObject
from ..models import Actor, Community, CommunityBan, Follow, Membership, Post, User, utcnow
from ..models.content import PUBLISHED
from ..models.social import ACCEPTED, MODERATOR, OWNER
from ..settings import Settings
from ..text import plain_text
from . import rules
from .decisions import ACCEPT, Decision, Verdict, hold, label, reject, strictest
from ..i18n import _, format_date, lazy_gettext, ngettext

# Reasons a writer here is shown are translated when made (in their request); hold reasons and
# reasons about other servers are for moderators and the logs, and stay as written.
LOCKED = lazy_gettext("This thread is locked: the moderators have closed it to new replies.")


# --- what a post looks like to the policy -----------------------------------------------------------

@dataclass(frozen=True)
class PostFacts:
    """What the policy needs to know about a post, whether written here or received."""

    text: str  # title, content warning and body as plain text
    language: str | None = None
    mentions: int = 0
    links: int = 0  # links other than mentions and hashtags
    has_media: bool = False
    is_reply: bool = False

    @classmethod
    def from_text(cls, body: str, *, title: str | None = None, content_warning: str | None = None,
                  language: str | None = None, is_reply: bool = False) -> "PostFacts":
        """A post written here (Markdown as typed)."""
        text = "\n".join(part for part in (title, content_warning, body) if part)
        return cls(text=text, language=language, is_reply=is_reply)

    @classmethod
    def from_object(cls, obj: APObject) -> "PostFacts":
        """A post from another server, before it is stored."""
        content = obj.content or next(iter(obj.content_map.values()), "") or ""
        body = html.unescape(plain_text(content)) if content else ""
        text = "\n".join(part for part in (obj.name, obj.summary, body) if part)
        not_links = {href for href in obj.mentions} | {t.href for t in obj.tags if t.type == "Hashtag" and t.href}
        return cls(text=text, language=obj.language, mentions=len(set(obj.mentions)),
                   links=_count_links(content, not_links), has_media=bool(obj.attachments),
                   is_reply=bool(obj.in_reply_to))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "a":
            values = {k: v or "" for k, v in attrs}
            self.anchors.append((values.get("href", ""), values.get("class", ""), values.get("rel", "")))


def _count_links(content: str, not_links: set[str]) -> int:
    """Links in a post's HTML that are not mentions or hashtags (GoToSocial's spam filter counts these)."""
    if "<a" not in content.lower():
        return 0
    parser = _Anchors()
    try:
        parser.feed(content[:rules.MAX_MATCH_CHARS])
        parser.close()
    except Exception:  # HTMLParser is lenient; anything it still chokes on counts as one link
        return 1
    count = 0
    for href, classes, rel in parser.anchors:
        names = set(classes.split())
        if not href or names & {"mention", "hashtag"} or "tag" in rel.split() or href in not_links:
            continue
        count += 1
    return count


# --- shared pieces ------------------------------------------------------------------------------------

def _domain_decision(snapshot: rules.Snapshot, host: str | None) -> Decision:
    if not host:
        return ACCEPT
    rule = snapshot.domain_rule(host)
    if rule is None:
        return ACCEPT
    if rule.severity == "suspend":
        return reject(f"{host} is suspended here ({rule.domain}): nothing is taken from it")
    if rule.severity == "limit":
        return hold(f"{host} is limited here ({rule.domain}): what comes from it is reviewed first")
    return ACCEPT


async def check_domain(session: AsyncSession, host: str | None) -> Decision:
    """A remote host on its own: REJECT when suspended, HOLD when limited, else ACCEPT."""
    return _domain_decision(await rules.snapshot(session), host)


async def _active_ban(session: AsyncSession, community: Community | None, actor: Actor | None) -> CommunityBan | None:
    if community is None or actor is None:
        return None
    now = utcnow()
    read = batch_memo(session, "bans")  # an inbox batch reads the bans of all its actors at once
    if read is not None and actor.id in read:
        return next((ban for ban in read[actor.id] if ban.community_id == community.id
                     and (ban.expires_at is None or ban.expires_at > now)), None)
    return await session.scalar(select(CommunityBan).where(
        CommunityBan.community_id == community.id, CommunityBan.actor_id == actor.id,
        or_(CommunityBan.expires_at.is_(None), CommunityBan.expires_at > now)).limit(1))


def _keyword_decisions(snapshot: rules.Snapshot, facts: PostFacts, community: Community | None, *,
                       local: bool) -> list[Decision]:
    out = []
    for rule, matched in rules.matching_rules(snapshot.keywords, facts.text, facts.language,
                                              community.id if community else None):
        if rule.action == "reject" and local:
            out.append(reject(
                _("We can't post this as it is: “%(words)s” isn't accepted in this community. "
                  "You could change those words and try again.", words=matched) if rule.community_id is not None
                else _("We can't post this as it is: “%(words)s” isn't accepted on this site. "
                       "You could change those words and try again.", words=matched)))
        elif rule.action == "reject":
            out.append(reject(f"keyword rule {rule.id} (reject) matched “{matched}”"))
        elif rule.action == "hold":
            out.append(hold(f"keyword rule {rule.id} matched “{matched}”"))
        elif rule.action == "warn" and rule.warning:
            out.append(label(rule.warning, f"keyword rule {rule.id} matched “{matched}”: content warning added"))
    return out


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


# --- inbound ----------------------------------------------------------------------------------------

async def _known_here(session: AsyncSession, actor: Actor, community: Community) -> bool:
    """Someone the community knows: an accepted follow either way, or a post published in it before."""
    follow = await session.scalar(select(Follow.id).where(Follow.state == ACCEPTED, or_(
        and_(Follow.follower_id == actor.id, Follow.target_id == community.actor_id),
        and_(Follow.follower_id == community.actor_id, Follow.target_id == actor.id))).limit(1))
    if follow is not None:
        return True
    earlier = await session.scalar(select(Post.id).where(
        Post.author_id == actor.id, Post.community_id == community.actor_id, Post.state == PUBLISHED).limit(1))
    return earlier is not None


async def _spam_decisions(session: AsyncSession, snapshot: rules.Snapshot, actor: Actor, host: str | None,
                          facts: PostFacts, community: Community) -> list[Decision]:
    """Spam-wave heuristics (security reference row 13). They hold, never reject."""
    limits, out = snapshot.limits, []
    if host and limits.remote_domain_posts_per_minute > 0:
        sent = rules.cache_for(session.get_bind()).count_burst(host)
        if sent > limits.remote_domain_posts_per_minute:
            out.append(hold(f"{host} sent {sent} posts in the last minute (the limit is "
                            f"{limits.remote_domain_posts_per_minute}): possibly a spam wave"))
    mention_limit = limits.spam_mention_limit
    suspicious = (mention_limit > 0 and facts.mentions >= mention_limit) or facts.links > 0 or facts.has_media
    if not (suspicious or community.requires_approval):
        return out
    if await _known_here(session, actor, community):
        return out
    if mention_limit > 0 and facts.mentions >= mention_limit:
        out.append(hold(f"someone new to this community mentions {facts.mentions} people"))
    if facts.links:
        out.append(hold(f"someone new to this community posts {facts.links} link{'s' if facts.links > 1 else ''}"))
    if facts.has_media:
        out.append(hold("someone new to this community posts media"))
    if community.requires_approval:
        out.append(hold("a first post from someone this community hasn't seen before"))
    return out


async def check_inbound(session: AsyncSession, settings: Settings, *, actor: Actor | None, host: str | None,
                        post: PostFacts | None = None, community: Community | None = None,
                        thread: Post | None = None) -> Decision:
    """An activity from another server.

    `actor`: who wrote the post (or liked, or followed); `host`: the server that sent it (it can
    differ when a community announces someone else's post); `post`: the post's facts, None for
    likes and follows; `community`: the community it lands in; `thread`: the thread a reply joins.
    """
    snap = await rules.snapshot(session)
    hosts = dict.fromkeys(h for h in (host, actor.domain if actor is not None and not actor.local else None) if h)
    decisions = [_domain_decision(snap, h) for h in hosts]
    if actor is not None and actor.suspended:
        decisions.append(reject(f"{actor.handle} is suspended here"))
    if any(d.verdict == Verdict.REJECT for d in decisions):
        return strictest(decisions)
    ban = await _active_ban(session, community, actor)
    if ban is not None:
        return reject(f"{actor.handle} is banned from {community.name}" + (f": {ban.reason}" if ban.reason else ""))
    if post is None:
        return strictest(decisions)
    if post.is_reply and thread is not None and thread.locked:
        return reject("the thread is locked")
    decisions.extend(_keyword_decisions(snap, post, community, local=False))
    if community is not None and community.local and actor is not None and not actor.local:
        if not any(d.verdict == Verdict.REJECT for d in decisions):
            decisions.extend(await _spam_decisions(session, snap, actor, host or actor.domain, post, community))
    return strictest(decisions)


# --- local ------------------------------------------------------------------------------------------

async def _role(session: AsyncSession, community: Community | None, author: Actor) -> str | None:
    if community is None:
        return None
    return await session.scalar(select(Membership.role).where(Membership.community_id == community.id,
                                                              Membership.actor_id == author.id))


async def _hourly_wait(session: AsyncSession, author: Actor, limit: int, now: dt.datetime) -> float:
    """Seconds until the author may post again under `limit` posts an hour (0: now).

    Reads at most `limit` rows through the (author_id, published_at) index.
    """
    since = now - dt.timedelta(hours=1)
    recent = list(await session.scalars(
        select(Post.published_at).where(Post.author_id == author.id, Post.published_at > since)
        .order_by(Post.published_at.desc()).limit(limit)))
    if len(recent) < limit:
        return 0.0
    return max(1.0, (recent[-1] + dt.timedelta(hours=1) - now).total_seconds())


async def _slow_mode_wait(session: AsyncSession, author: Actor, thread: Post, now: dt.datetime) -> float:
    window = dt.timedelta(seconds=thread.slow_mode_seconds)
    last = await session.scalar(
        select(Post.published_at).where(Post.author_id == author.id, Post.published_at > now - window,
                                        Post.thread_id == thread.id)
        .order_by(Post.published_at.desc()).limit(1))
    return 0.0 if last is None else max(1.0, (last + window - now).total_seconds())


async def _is_admin(session: AsyncSession, author: Actor) -> bool:
    return bool(await session.scalar(select(User.is_admin).where(User.actor_id == author.id)))


async def check_local(session: AsyncSession, settings: Settings, *, author: Actor, community: Community | None,
                      thread: Post | None, text: str | PostFacts, language: str | None = None,
                      now: dt.datetime | None = None) -> Decision:
    """A thread (thread None) or reply (thread = the thread it joins) written by one of our people.

    REJECT reasons are shown to the writer. Moderators and owners of the community are exempt
    from slow mode and the new-account rule; admins from the new-account rule.
    """
    now = now or utcnow()
    facts = text if isinstance(text, PostFacts) else PostFacts.from_text(text, language=language,
                                                                          is_reply=thread is not None)
    if author.suspended:
        return reject(_("Your account is suspended, so you can't post right now."))
    ban = await _active_ban(session, community, author)
    if ban is not None:
        if ban.expires_at:
            return reject(_("The moderators of %(community)s have paused your posting here until %(date)s. "
                            "You can still read, and other communities are open to you.",
                            community=community.title, date=format_date(ban.expires_at)))
        return reject(_("The moderators of %(community)s have paused your posting here. "
                        "You can still read, and other communities are open to you.", community=community.title))
    if thread is not None and thread.locked:
        return reject(str(LOCKED))
    snap = await rules.snapshot(session)
    limits = snap.limits
    if limits.posts_per_hour > 0:
        wait = await _hourly_wait(session, author, limits.posts_per_hour, now)
        if wait:
            return reject(_("You've posted a lot in the last hour, so we've paused posting for a little while "
                            "to keep things calm. You can post again in %(wait)s.", wait=_minutes(wait)))
    role = None
    if thread is not None and thread.slow_mode_seconds > 0:
        role = await _role(session, community, author)
        if role not in (OWNER, MODERATOR):
            wait = await _slow_mode_wait(session, author, thread, now)
            if wait:
                return reject(_("This thread is in slow mode, so everyone has time to be heard. "
                                "You can reply again in %(wait)s.", wait=_minutes(wait)))
    decisions = _keyword_decisions(snap, facts, community, local=True)
    rejected = [d for d in decisions if d.verdict == Verdict.REJECT]
    if rejected:
        return rejected[0]
    if limits.new_account_held_posts > 0:
        role = role if role is not None else await _role(session, community, author)
        if role not in (OWNER, MODERATOR) and not await _is_admin(session, author):
            published = len(list(await session.scalars(
                select(Post.id).where(Post.author_id == author.id, Post.state == PUBLISHED)
                .limit(limits.new_account_held_posts))))
            if published < limits.new_account_held_posts:
                decisions.append(hold(f"a new account: its first {limits.new_account_held_posts} posts are "
                                      f"checked by a moderator ({published} published so far)"))
    return strictest(decisions)


async def check_edit(session: AsyncSession, settings: Settings, *, author: Actor, community: Community | None,
                     text: str | PostFacts, language: str | None = None) -> Decision:
    """An edit by one of our people: the keyword rules again (an edit must not slip past them)."""
    facts = text if isinstance(text, PostFacts) else PostFacts.from_text(text, language=language)
    if author.suspended:
        return reject(_("Your account is suspended, so you can't change posts right now."))
    decisions = _keyword_decisions(await rules.snapshot(session), facts, community, local=True)
    rejected = [d for d in decisions if d.verdict == Verdict.REJECT]
    return rejected[0] if rejected else strictest(decisions)


async def check_remote_translation(session: AsyncSession, facts: PostFacts, community: Community | None) -> Decision:
    """Another language of a remote post, arriving in its contentMap: the keyword rules only (the
    post itself, its author and host were checked by `check_inbound`)."""
    return strictest(_keyword_decisions(await rules.snapshot(session), facts, community, local=False))


# --- delivery and other single questions -------------------------------------------------------------

async def check_delivery(session: AsyncSession, host: str) -> Decision:
    """Whether we send anything to this host: suspended domains get nothing."""
    rule = (await rules.snapshot(session)).domain_rule(host)
    if rule is not None and rule.severity == "suspend":
        return reject(f"{host} is suspended here ({rule.domain})")
    return ACCEPT


async def check_announce(session: AsyncSession, actor_ap_id: str | None) -> Decision:
    """Whether a community may pass on an activity by this actor: limited domains are never amplified."""
    try:
        host = host_of(actor_ap_id) if actor_ap_id else None
    except ValueError:
        return reject("the activity's actor has no valid host")
    decision = await check_domain(session, host)
    if decision.verdict == Verdict.HOLD:
        return reject(decision.reason.replace("is reviewed first", "is accepted but never passed on"))
    return decision


async def check_report(session: AsyncSession, host: str | None) -> Decision:
    """A report (Flag) from another server: refused from suspended domains and where reject_reports is set."""
    rule = (await rules.snapshot(session)).domain_rule(host) if host else None
    if rule is not None and (rule.severity == "suspend" or rule.reject_reports):
        return reject(f"reports from {host} are not accepted here ({rule.domain})")
    return ACCEPT


async def refused_at_inbox(services, host: str) -> bool:
    """True for activities from a suspended domain, answered 403 before any signature work.

    Reads the process's cached policy; a query runs only when the cache is cold or stale.
    """
    cache = rules.cache_for(services.engine)
    snap = cache.current()
    if snap is None:
        async with services.sessions() as session:
            snap = await cache.get(session)
    rule = snap.domain_rule(host)
    return rule is not None and rule.severity == "suspend"


def with_label(content_warning: str | None, decision: Decision, limit: int = 500) -> str | None:
    """A post's content warning with the policy's label added (kept when it says so already)."""
    if not decision.label:
        return content_warning
    if not content_warning:
        return decision.label[:limit]
    if decision.label.casefold() in content_warning.casefold():
        return content_warning
    return f"{content_warning}; {decision.label}"[:limit]


__all__ = [
    "LOCKED", "PostFacts", "check_announce", "check_delivery", "check_domain", "check_edit", "check_inbound", "check_local",
    "check_remote_translation", "check_report", "refused_at_inbox", "with_label",
]
