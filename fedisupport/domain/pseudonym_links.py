"""SQL for "the same person in this community": an actor, its pseudonym there, the account behind it.

Kept apart from domain/pseudonyms.py (and free of other domain imports) because bans.py, which
posting and moderation import, needs it too.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from ..models import Pseudonym, User


def same_person(column: Any, actor_id: int, community_id: Any) -> Any:
    """`column` (an actor id column) is `actor_id`, or that person's other face in the community.

    For a pseudonym: also the account behind it. For an account: also its pseudonym in this
    community (people have at most one there). `community_id` is a `communities.id` value or
    column, so the condition can correlate with the query it sits in.
    """
    behind = (select(User.actor_id).join(Pseudonym, Pseudonym.user_id == User.id)
              .where(Pseudonym.actor_id == actor_id, Pseudonym.community_id == community_id))
    worn = (select(Pseudonym.actor_id).join(User, User.id == Pseudonym.user_id)
            .where(User.actor_id == actor_id, Pseudonym.community_id == community_id))
    return or_(column == actor_id, column.in_(behind), column.in_(worn))
