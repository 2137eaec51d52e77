"""The pieces the policy decides with: normalised text, keyword rules, domain rules, and a cache.

Nothing here writes to the database or knows about HTTP. `check.py` puts the pieces together at
the three checkpoints (inbound, local, delivery).

The cache: domain policies, keyword rules and the site's limits are read at every checkpoint,
and an inbox POST from a suspended domain must be refused without a query. So each process keeps
them in memory per database engine, reloads them after `TTL` seconds, and drops them as soon as
a transaction that changed any of them commits in this process (other processes catch up within
`TTL`). Bursts from one remote domain are counted in the same place, in a sliding window.
"""
from __future__ import annotations

import collections
import logging
import re
import time
import unicodedata
import weakref
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..activitypub.origin import normalize_host
from ..i18n import _
from ..models import DomainPolicy, KeywordRule, Site

log = logging.getLogger("fedisupport.policy")

SEVERITIES = ("suspend", "limit", "noop")
KEYWORD_ACTIONS = ("reject", "hold", "warn")
TTL = 30.0  # seconds a process trusts its cached policy before reading it again
BURST_WINDOW = 60.0  # seconds, for remote_domain_posts_per_minute
MAX_MATCH_CHARS = 100_000  # text beyond this is not searched (bounded work per post)
MAX_TRACKED_HOSTS = 10_000


# --- normalised text -----------------------------------------------------------------------------

def _ranges(*spans: tuple[int, int]) -> frozenset[int]:
    return frozenset(cp for start, end in spans for cp in range(start, end + 1))


# Marks that are accents or vowel points rather than letters: stripped, so "suicidió" matches
# "suicidio" and fully vowelled Arabic or Hebrew matches the everyday unvowelled spelling.
# Indic vowel signs and viramas are letters' own parts and are kept (only the nukta goes, so
# "ज़िंदगी" and "जिंदगी" are one word).
_STRIPPED_MARKS = _ranges(
    (0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),  # combining accents
    (0x0591, 0x05BD), (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x05C4, 0x05C5), (0x05C7, 0x05C7),  # Hebrew points
    (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E8),  # Arabic harakat
    (0x06EA, 0x06ED), (0x0640, 0x0640),  # … and the tatweel that only stretches a word
    (0x093C, 0x093C), (0x09BC, 0x09BC), (0x0A3C, 0x0A3C), (0x0ABC, 0x0ABC), (0x0B3C, 0x0B3C), (0x0CBC, 0x0CBC),  # nukta
)
_SPACES = re.compile(r"\s+")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    # Format characters (zero-width spaces and joiners, soft hyphens) are invisible: they only
    # ever split a word to slip it past a filter.
    kept = "".join(ch for ch in decomposed if ord(ch) not in _STRIPPED_MARKS and unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFC", kept)


def normalize(text: str) -> str:
    """Text as rules see it: NFKC, case-folded, accents and vowel points stripped, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _strip_marks(folded)).strip()


# Scripts that separate words with spaces: a plain keyword there matches whole words only. In
# others (Arabic and Hebrew attach "and", "the", "to" to the word; Chinese, Japanese, Thai and
# Korean particles run on) a keyword matches inside words too.
_SPACED_SCRIPTS = frozenset({
    "LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "GEORGIAN", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI",
    "ORIYA", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM", "SINHALA", "ETHIOPIC", "DIGIT",
})


def _needs_boundary(ch: str) -> bool:
    return unicodedata.name(ch, "?").split(" ", 1)[0] in _SPACED_SCRIPTS


def _is_word_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch)[0] in "LMN"


def _find_word(haystack: str, needle: str) -> int:
    """Index of `needle` in `haystack` as a whole word (where the script has words), or -1."""
    left, right = _needs_boundary(needle[0]), _needs_boundary(needle[-1])
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        if (not left or start == 0 or not _is_word_char(haystack[start - 1])) and \
                (not right or end == len(haystack) or not _is_word_char(haystack[end])):
            return start
        start = haystack.find(needle, start + 1)
    return -1


# --- keyword rules -------------------------------------------------------------------------------

# A repeated group that itself repeats, e.g. (a+)+ or (\w*\s?)*: Python's regex engine can take
# exponential time on such patterns, and the worker would stall on one unlucky post.
_NESTED_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\d*\})")
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


class PatternError(ValueError):
    """A keyword rule that cannot be used; the message is for the admin writing it."""


def compile_pattern(pattern: str, is_regex: bool) -> re.Pattern | str:
    """The matcher for a rule: a compiled pattern, or the normalised words. PatternError if unusable."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise PatternError(_("Please enter a word, a phrase or a pattern."))
    if len(pattern) > 500:
        raise PatternError(_("Please keep this to %(max)s characters or fewer.", max=500))
    if not is_regex:
        words = normalize(pattern)
        if not words:
            raise PatternError(_("Please enter a word, a phrase or a pattern."))
        return words
    if _NESTED_REPEAT.search(pattern):
        raise PatternError(_("This pattern repeats a group that itself repeats, which can make the server very "
                             "slow. Please simplify it, for example (ab)+ instead of (a+b)+."))
    try:
        # Accents are stripped as in the text; case is ignored by the flag (folding the pattern
        # itself would change escapes such as \W into \w).
        return re.compile(_strip_marks(unicodedata.normalize("NFC", pattern)), re.IGNORECASE)
    except re.error as exc:
        # The problem itself is Python's own words, in English.
        if exc.pos is not None:
            raise PatternError(_("This pattern has a mistake (at character %(pos)s): %(problem)s.",
                                 pos=exc.pos + 1, problem=exc.msg)) from None
        raise PatternError(_("This pattern has a mistake: %(problem)s.", problem=exc.msg)) from None


def normalize_language(tag: str | None) -> str | None:
    """A BCP 47 tag, lowercased, or None for every language; ValueError if it isn't one."""
    tag = (tag or "").strip().lower().replace("_", "-")
    if not tag:
        return None
    if not _LANGUAGE_TAG.match(tag):
        raise ValueError(tag)
    return tag


def language_applies(rule_language: str | None, post_language: str | None) -> bool:
    """A rule for "es" covers es, es-MX, es-419; a post of unknown language meets every rule."""
    if rule_language is None or not post_language:
        return True
    post = post_language.lower().replace("_", "-")
    return post == rule_language or post.startswith(rule_language + "-")


@dataclass(frozen=True)
class CompiledRule:
    id: int
    community_id: int | None
    action: str  # reject | hold | warn
    language: str | None
    warning: str
    pattern: str  # as written, for reasons shown to moderators
    matcher: re.Pattern | str

    def find(self, normalized_text: str) -> str | None:
        """The matched text, or None."""
        if isinstance(self.matcher, str):
            at = _find_word(normalized_text, self.matcher)
            return None if at < 0 else normalized_text[at:at + len(self.matcher)]
        found = self.matcher.search(normalized_text)
        return found.group(0) or self.pattern if found else None


def compile_rule(rule: KeywordRule) -> CompiledRule | None:
    try:
        matcher = compile_pattern(rule.pattern, rule.is_regex)
    except PatternError as exc:
        log.warning("keyword rule %s is not usable and is skipped: %s", rule.id, exc)
        return None
    try:
        language = normalize_language(rule.language)
    except ValueError:
        language = rule.language
    return CompiledRule(rule.id, rule.community_id, rule.action, language, rule.warning or "", rule.pattern, matcher)


def matching_rules(rules: Iterable[CompiledRule], text: str, language: str | None,
                   community_id: int | None) -> list[tuple[CompiledRule, str]]:
    """(rule, matched text) for every instance-wide rule, and every rule of this community, that matches."""
    normalized = normalize(text[:MAX_MATCH_CHARS])
    found = []
    for rule in rules:
        if rule.community_id is not None and rule.community_id != community_id:
            continue
        if not language_applies(rule.language, language):
            continue
        matched = rule.find(normalized)
        if matched is not None:
            found.append((rule, matched))
    return found


# --- domains -------------------------------------------------------------------------------------

def normalize_domain(value: str) -> str:
    """A domain as policies store it (lowercase, IDNA, no trailing dot); ValueError if it isn't one."""
    value = (value or "").strip()
    if "://" in value:
        value = value.split("://", 1)[1].split("/", 1)[0]
    value = value.strip().rstrip("/")
    if not value or "*" in value or " " in value:
        raise ValueError(value)
    host = normalize_host(value)
    name, _ = _split_port(host)
    if "." not in name and not name.startswith("[") and name != "localhost":
        raise ValueError(value)
    return host


def _split_port(host: str) -> tuple[str, str]:
    if host.startswith("["):  # an IPv6 literal
        end = host.find("]")
        return host[:end + 1], host[end + 2:]
    name, _, port = host.partition(":")
    return name, port


def domain_candidates(host: str) -> list[str]:
    """The policy keys that can cover a host: itself, itself without a port, then its parents.

    A policy for example.org covers example.org:8443 and social.example.org; a policy for
    127.0.0.1:8001 covers only that port. IP addresses have no parents.
    """
    try:
        host = normalize_host(host)
    except ValueError:
        return [host.lower()]
    out = [host]
    name, port = _split_port(host)
    if port:
        out.append(name)
    if name.startswith("[") or name.replace(".", "").isdigit():
        return out
    parts = name.split(".")
    out.extend(".".join(parts[i:]) for i in range(1, len(parts) - 1))
    return out


@dataclass(frozen=True)
class DomainRule:
    domain: str
    severity: str  # suspend | limit | noop
    reject_media: bool
    reject_reports: bool


@dataclass(frozen=True)
class Limits:
    new_account_held_posts: int = 0
    posts_per_hour: int = 30
    remote_domain_posts_per_minute: int = 120
    spam_mention_limit: int = 5
    show_blocked_domains: bool = False


@dataclass
class Snapshot:
    domains: dict[str, DomainRule] = field(default_factory=dict)
    keywords: list[CompiledRule] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)

    def domain_rule(self, host: str) -> DomainRule | None:
        """The most specific policy covering a host (subdomains inherit their parent's)."""
        if not self.domains:
            return None
        for candidate in domain_candidates(host):
            rule = self.domains.get(candidate)
            if rule is not None:
                return rule
        return None


async def load_snapshot(session: AsyncSession) -> Snapshot:
    domains = {row.domain: DomainRule(row.domain, row.severity, row.reject_media, row.reject_reports)
               for row in await session.scalars(select(DomainPolicy))}
    keywords = [c for c in map(compile_rule, await session.scalars(select(KeywordRule).order_by(KeywordRule.id))) if c]
    site = await session.scalar(select(Site).where(Site.id == 1))
    limits = Limits() if site is None else Limits(
        site.new_account_held_posts, site.posts_per_hour, site.remote_domain_posts_per_minute,
        site.spam_mention_limit, site.show_blocked_domains)
    return Snapshot(domains, keywords, limits)


class PolicyCache:
    """One process's copy of the policy for one database, and its burst counters."""

    def __init__(self, ttl: float = TTL, clock=time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0
        self._generation = 0
        self._bursts: dict[str, collections.deque[float]] = {}

    def current(self) -> Snapshot | None:
        """The cached snapshot if still fresh, else None."""
        if self._snapshot is not None and self.clock() - self._loaded_at < self.ttl:
            return self._snapshot
        return None

    async def get(self, session: AsyncSession) -> Snapshot:
        snapshot = self.current()
        if snapshot is not None:
            return snapshot
        generation = self._generation
        snapshot = await load_snapshot(session)
        if generation == self._generation:  # not invalidated while we were reading
            self._snapshot, self._loaded_at = snapshot, self.clock()
        return snapshot

    def invalidate(self) -> None:
        self._snapshot = None
        self._generation += 1

    def count_burst(self, host: str) -> int:
        """Record one post from a host; how many it sent in the last minute, this one included."""
        now = self.clock()
        window = self._bursts.get(host)
        if window is None:
            if len(self._bursts) >= MAX_TRACKED_HOSTS:
                self._forget_quiet_hosts(now)
            window = self._bursts[host] = collections.deque()
        while window and window[0] <= now - BURST_WINDOW:
            window.popleft()
        window.append(now)
        return len(window)

    def _forget_quiet_hosts(self, now: float) -> None:
        for host in [h for h, w in self._bursts.items() if not w or w[-1] <= now - BURST_WINDOW]:
            del self._bursts[host]
        while len(self._bursts) >= MAX_TRACKED_HOSTS:
            del self._bursts[next(iter(self._bursts))]


_caches: "weakref.WeakKeyDictionary[Engine, PolicyCache]" = weakref.WeakKeyDictionary()


def cache_for(bind) -> PolicyCache:
    """The cache for a database engine (sync or async), made on first use."""
    engine = getattr(bind, "sync_engine", bind)
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = PolicyCache()
    return cache


async def snapshot(session: AsyncSession) -> Snapshot:
    return await cache_for(session.get_bind()).get(session)


# --- invalidation ---------------------------------------------------------------------------------
# A transaction that changes the policy drops the cache when it flushes (so its own later checks
# see the change), again when it commits (a reader in between may have cached the old rows), and
# when it rolls back (its own checks may have cached rows that never became real).

_POLICY_TABLES = (DomainPolicy, KeywordRule, Site)
_FLAG = "fedisupport.policy_changed"


def _forget(session: Session) -> None:
    cache_for(session.get_bind()).invalidate()


def policy_changed(session: AsyncSession | Session) -> None:
    """Mark a transaction as changing the policy (for bulk statements the ORM doesn't see)."""
    sync = getattr(session, "sync_session", session)
    sync.info[_FLAG] = True
    _forget(sync)


@event.listens_for(Session, "after_flush")
def _note_policy_rows(session: Session, _context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _POLICY_TABLES):
            session.info[_FLAG] = True
            _forget(session)
            return


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, None):
        _forget(session)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.info.pop(_FLAG, None):
        _forget(session)


__all__ = [
    "CompiledRule", "DomainRule", "KEYWORD_ACTIONS", "Limits", "PatternError", "PolicyCache", "SEVERITIES",
    "Snapshot", "cache_for", "compile_pattern", "domain_candidates", "language_applies", "matching_rules",
    "normalize", "normalize_domain", "normalize_language", "policy_changed", "snapshot",
]
