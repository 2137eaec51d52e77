"""Reports from readers here (signed in or not) and from other servers' `Flag`s.

Welfare reports ("I'm worried about this person") are urgent, and so are the ones the instance
files itself when a post matches a crisis signal (care/welfare.py). A moderator can forward a
report to the account's own server as a `Flag` from our instance actor, and records how it was
resolved. Reporters are never named to anyone but the moderators who handle the report.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..i18n import _
from ..models import Actor, Community, Post, Report, utcnow
from ..outbox import moderation as outbox
from ..settings import Settings
from . import accounts
from .errors import Conflict, DomainError, NotFound
from .moderation import clean_reason, community_of, may_moderate

REPORT_CATEGORIES = ("welfare", "rule", "spam", "other")


async def create_report(session: AsyncSession, *, reporter: Actor | None, reason: str, category: str,
                        post: Post | None = None, target: Actor | None = None, ap_id: str | None = None) -> Report:
    """A report about a post (and so its author) or an account. Welfare reports are urgent."""
    if category not in REPORT_CATEGORIES:
        raise DomainError(_("Please choose what kind of concern this is."))
    reason = clean_reason(reason)
    if post is None and target is None:
        raise DomainError("A report needs a post or an account.")
    if ap_id is not None:
        existing = await session.scalar(select(Report).where(Report.ap_id == ap_id))
        if existing is not None:
            return existing
    community = None
    if post is not None:
        target = await session.get(Actor, post.author_id)
        community = await community_of(session, post)
    report = Report(ap_id=ap_id, reporter_id=reporter.id if reporter else None, target_actor_id=target.id,
                    post_id=post.id if post else None, community_id=community.id if community else None,
                    reason=reason, category=category, urgent=category == "welfare", state="open", created_at=utcnow())
    session.add(report)
    await session.flush()
    return report


async def reports_since(session: AsyncSession, reporter: Actor | None, since: dt.datetime) -> int:
    """How many reports this person (None: anyone not signed in) made since a moment (rate limits)."""
    condition = Report.reporter_id.is_(None) & Report.ap_id.is_(None) & Report.automatic.is_(False) \
        if reporter is None else Report.reporter_id == reporter.id
    return await session.scalar(select(func.count(Report.id)).where(condition, Report.created_at >= since)) or 0


async def may_handle_report(session: AsyncSession, actor: Actor, report: Report) -> bool:
    community = await session.get(Community, report.community_id) if report.community_id else None
    return await may_moderate(session, actor, community)


async def _report_for(session: AsyncSession, actor: Actor, report_id: int) -> Report:
    report = await session.get(Report, report_id)
    if report is None or not await may_handle_report(session, actor, report):
        raise NotFound("We couldn't find that report.")
    return report


async def resolve_report(session: AsyncSession, moderator: Actor, report_id: int, resolution: str = "") -> Report:
    report = await _report_for(session, moderator, report_id)
    if report.state == "resolved":
        raise Conflict("Someone has already resolved this report.")
    report.state = "resolved"
    report.resolution = clean_reason(resolution) or "Looked at; nothing more to do."
    report.resolved_by_id = moderator.id
    report.resolved_at = utcnow()
    await session.flush()
    return report


async def forward_report(session: AsyncSession, settings: Settings, moderator: Actor, report_id: int,
                         comment: str = "") -> dict[str, Any]:
    """Send the report to the account's own server, as Mastodon does: a Flag from our instance actor."""
    report = await _report_for(session, moderator, report_id)
    target = await session.get(Actor, report.target_actor_id) if report.target_actor_id else None
    if target is None:
        raise NotFound("The reported account is gone.")
    if target.local:
        raise DomainError(_("That account lives on this instance, so there is nowhere to forward the report to."))
    comment = clean_reason(comment) or report.reason
    post = await session.get(Post, report.post_id) if report.post_id else None
    posts = [post] if post is not None and not post.local and post.author_id == target.id else []
    instance = await accounts.ensure_instance_actor(session, settings)
    doc = await outbox.send_flag(session, settings, instance, target, posts, comment)
    report.forwarded_at = utcnow()
    await session.flush()
    return doc
