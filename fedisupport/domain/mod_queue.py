"""What the moderators' queue and the public modlog read: held items, open reports, log pages."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Actor, Community, Follow, HeldItem, ModAction, Post, PostTranslation, Report
from .moderation import PRIVATE_ACTIONS


@dataclass
class HeldEntry:
    held: HeldItem
    community: Community | None
    post: Post | None = None
    author: Actor | None = None
    thread: Post | None = None
    follower: Actor | None = None
    translation: Any = None  # kind "translation": the PostTranslation waiting, and who wrote it
    translator: Actor | None = None


@dataclass
class ReportEntry:
    report: Report
    community: Community | None
    target: Actor | None
    post: Post | None
    remote_reporter_host: str | None  # a Flag's server; reporters here are never named


def _scope(column, community_ids: Sequence[int] | None):
    return True if community_ids is None else column.in_(list(community_ids) or [-1])


async def pending_held(session: AsyncSession, community_ids: Sequence[int] | None, *, kind: str | None = None,
                       limit: int = 50) -> list[HeldEntry]:
    """What waits for a decision, urgent first, then oldest first."""
    query = (select(HeldItem).where(HeldItem.state == "pending", _scope(HeldItem.community_id, community_ids))
             .order_by(HeldItem.urgent.desc(), HeldItem.created_at, HeldItem.id).limit(limit))
    if kind is not None:
        query = query.where(HeldItem.kind == kind)
    entries = []
    for held in await session.scalars(query):
        entry = HeldEntry(held=held, community=await session.get(Community, held.community_id) if held.community_id else None)
        if held.post_id:
            entry.post = await session.get(Post, held.post_id)
            if entry.post is not None:
                entry.author = await session.get(Actor, entry.post.author_id)
                if not entry.post.is_thread and entry.post.thread_id:
                    entry.thread = await session.get(Post, entry.post.thread_id)
        if held.follow_id:
            follow = await session.get(Follow, held.follow_id)
            entry.follower = await session.get(Actor, follow.follower_id) if follow else None
        if held.translation_id:
            entry.translation = await session.get(PostTranslation, held.translation_id)
            if entry.translation is not None and entry.translation.translator_id:
                entry.translator = await session.get(Actor, entry.translation.translator_id)
        entries.append(entry)
    return entries


async def open_reports(session: AsyncSession, community_ids: Sequence[int] | None, limit: int = 50) -> list[ReportEntry]:
    # Reports about accounts, or posts outside our communities, are for admins (community_ids None).
    query = (select(Report).where(Report.state == "open", _scope(Report.community_id, community_ids))
             .order_by(Report.urgent.desc(), Report.created_at, Report.id).limit(limit))
    entries = []
    for report in await session.scalars(query):
        reporter = await session.get(Actor, report.reporter_id) if report.reporter_id else None
        entries.append(ReportEntry(
            report=report,
            community=await session.get(Community, report.community_id) if report.community_id else None,
            target=await session.get(Actor, report.target_actor_id) if report.target_actor_id else None,
            post=await session.get(Post, report.post_id) if report.post_id else None,
            remote_reporter_host=reporter.domain if reporter is not None and not reporter.local else None,
        ))
    return entries


@dataclass
class LogEntry:
    action: ModAction
    community: Community | None
    target: Actor | None
    post: Post | None
    thread: Post | None


async def modlog_page(session: AsyncSession, *, community_id: int | None = None,
                      before: tuple[dt.datetime, int] | None = None, limit: int = 50) -> tuple[list[LogEntry], bool]:
    """One page of the public modlog, newest first, by keyset on (created_at, id)."""
    query = select(ModAction).where(ModAction.action.not_in(PRIVATE_ACTIONS))
    if community_id is not None:
        query = query.where(ModAction.community_id == community_id)
    if before is not None:
        query = query.where(tuple_(ModAction.created_at, ModAction.id) < tuple_(*before))
    rows = list(await session.scalars(query.order_by(ModAction.created_at.desc(), ModAction.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    entries = []
    for action in rows[:limit]:
        post = await session.get(Post, action.target_post_id) if action.target_post_id else None
        thread = None
        if post is not None and not post.is_thread and post.thread_id:
            thread = await session.get(Post, post.thread_id)
        entries.append(LogEntry(
            action=action,
            community=await session.get(Community, action.community_id) if action.community_id else None,
            target=await session.get(Actor, action.target_actor_id) if action.target_actor_id else None,
            post=post, thread=thread))
    return entries, more
