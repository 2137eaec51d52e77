"""SQLAlchemy tables, storage only. Import from here so every table is registered."""
from .actors import APPLICATION, GROUP, PERSON, Actor, Instance, Site, User
from .auth import Invite, PasswordReset, WebSession
from .base import Base, utcnow
from .care import CrisisPhrase, CrisisService
from .content import Like, Post, Tombstone
from .moderation import CommunityBan, DomainPolicy, HeldItem, KeywordRule, ModAction, Report, Rule
from .pseudonyms import Pseudonym
from .queues import Delivery, FetchRequest, InboxItem, OutboxActivity
from .small_groups import GroupInvitation
from .social import Community, Follow, Membership
from .translations import PostTranslation

__all__ = [
    "APPLICATION", "GROUP", "PERSON", "Actor", "Base", "Community", "CommunityBan", "CrisisPhrase", "CrisisService", "KeywordRule", "Delivery", "DomainPolicy",
    "FetchRequest", "Follow", "GroupInvitation", "HeldItem", "InboxItem", "Instance", "Like", "Membership", "ModAction",
    "OutboxActivity", "PasswordReset", "Post", "PostTranslation", "Pseudonym", "Report", "Rule", "Site", "Tombstone", "User", "utcnow", "Invite", "WebSession",
]
