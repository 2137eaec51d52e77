"""The instance's own rules, keyword rules and limits, as admins change them.

Every change here is picked up by the policy (fedisupport/policy) when its transaction commits.
Mistakes come back as FieldErrors, one message per form field.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Community, KeywordRule, Rule, Site
from ..policy import rules
from .domain_blocks import FieldErrors
from .errors import NotFound

MAX_RULE = 1000
MAX_RULES = 50
MAX_WARNING = 300
MAX_LIMIT = 100_000


# --- instance rules ------------------------------------------------------------------------------


async def instance_rules(session: AsyncSession, community_id: int | None = None) -> list[Rule]:
    """The site's rules in order; with a community, its own rules follow the site's."""
    condition = Rule.community_id.is_(None)
    if community_id is not None:
        condition = or_(condition, Rule.community_id == community_id)
    query = select(Rule).where(condition).order_by(Rule.community_id.is_not(None), Rule.position, Rule.id)
    return list(await session.scalars(query))


def _clean_rule(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise FieldErrors({"text": "Please write the rule, or remove it instead."})
    if len(text) > MAX_RULE:
        raise FieldErrors({"text": f"Please keep a rule to {MAX_RULE} characters or fewer."})
    return text


async def add_rule(session: AsyncSession, text: str) -> Rule:
    text = _clean_rule(text)
    existing = await instance_rules(session)
    if len(existing) >= MAX_RULES:
        raise FieldErrors({"text": f"There are {MAX_RULES} rules already. Fewer rules are easier to keep."})
    rule = Rule(community_id=None, text=text, position=(existing[-1].position + 1) if existing else 0)
    session.add(rule)
    await session.flush()
    return rule


async def _instance_rule(session: AsyncSession, rule_id: int) -> Rule:
    rule = await session.get(Rule, rule_id)
    if rule is None or rule.community_id is not None:
        raise NotFound("That rule isn't there any more.")
    return rule


async def update_rule(session: AsyncSession, rule_id: int, text: str) -> Rule:
    rule = await _instance_rule(session, rule_id)
    rule.text = _clean_rule(text)
    await session.flush()
    return rule


async def move_rule(session: AsyncSession, rule_id: int, direction: str) -> bool:
    """Swap a rule with its neighbour (direction "up" or "down"); False at either end."""
    rule = await _instance_rule(session, rule_id)
    ordered = await instance_rules(session)
    for position, item in enumerate(ordered):  # make positions 0..n-1 so swapping is exact
        item.position = position
    index = next(i for i, item in enumerate(ordered) if item.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if other < 0 or other >= len(ordered):
        await session.flush()
        return False
    ordered[index].position, ordered[other].position = ordered[other].position, ordered[index].position
    await session.flush()
    return True


async def remove_rule(session: AsyncSession, rule_id: int) -> None:
    rule = await _instance_rule(session, rule_id)
    await session.delete(rule)
    await session.flush()


# --- keyword rules -------------------------------------------------------------------------------


@dataclass
class KeywordValues:
    pattern: str
    is_regex: bool = False
    language: str | None = None
    action: str = "hold"
    warning: str = ""
    community_id: int | None = None


async def keyword_rules(session: AsyncSession) -> list[tuple[KeywordRule, Community | None]]:
    rows = await session.execute(
        select(KeywordRule, Community).outerjoin(Community, Community.id == KeywordRule.community_id)
        .order_by(KeywordRule.community_id.is_not(None), Community.name, KeywordRule.pattern, KeywordRule.id))
    return [(rule, community) for rule, community in rows]


async def _clean_keyword(session: AsyncSession, values: KeywordValues) -> KeywordValues:
    errors: dict[str, str] = {}
    pattern = (values.pattern or "").strip()
    try:
        rules.compile_pattern(pattern, values.is_regex)
    except rules.PatternError as exc:
        errors["pattern"] = str(exc)
    try:
        language = rules.normalize_language(values.language)
    except ValueError:
        language = values.language
        errors["language"] = "Please use a language code such as en, es, hi or ar, or leave it empty for every language."
    if values.action not in rules.KEYWORD_ACTIONS:
        errors["action"] = "Please choose what happens to a post that matches."
    warning = " ".join((values.warning or "").split())
    if values.action == "warn" and not warning:
        errors["warning"] = "Please write the content warning readers will see, for example “mentions self-harm”."
    if len(warning) > MAX_WARNING:
        errors["warning"] = f"Please keep the warning to {MAX_WARNING} characters or fewer."
    community_id = values.community_id
    if community_id is not None and await session.get(Community, community_id) is None:
        errors["community_id"] = "That community isn't here any more. Please choose another."
    if errors:
        raise FieldErrors(errors)
    return KeywordValues(pattern, bool(values.is_regex), language, values.action,
                         warning if values.action == "warn" else "", community_id)


async def save_keyword_rule(session: AsyncSession, values: KeywordValues, *, rule_id: int | None = None,
                            created_by_id: int | None = None) -> KeywordRule:
    values = await _clean_keyword(session, values)
    if rule_id is None:
        rule = KeywordRule(created_by_id=created_by_id)
        session.add(rule)
    else:
        rule = await session.get(KeywordRule, rule_id)
        if rule is None:
            raise NotFound("That rule isn't there any more.")
    rule.pattern, rule.is_regex, rule.language = values.pattern, values.is_regex, values.language
    rule.action, rule.warning, rule.community_id = values.action, values.warning, values.community_id
    await session.flush()
    return rule


async def remove_keyword_rule(session: AsyncSession, rule_id: int) -> None:
    rule = await session.get(KeywordRule, rule_id)
    if rule is None:
        raise NotFound("That rule isn't there any more.")
    await session.delete(rule)
    await session.flush()


# --- limits --------------------------------------------------------------------------------------

LIMIT_FIELDS = ("new_account_held_posts", "posts_per_hour", "remote_domain_posts_per_minute", "spam_mention_limit")


async def save_limits(session: AsyncSession, raw: dict[str, str], show_blocked_domains: bool) -> Site:
    """Whole numbers from 0 (off) up; FieldErrors names each field that isn't one."""
    site = await session.get(Site, 1)
    if site is None:
        raise NotFound("This site isn't set up yet: run `fedisupport init` first.")
    values, errors = {}, {}
    for name in LIMIT_FIELDS:
        text = (raw.get(name) or "").strip()
        if not text.isdigit() or int(text) > MAX_LIMIT:
            errors[name] = f"Please enter a whole number from 0 to {MAX_LIMIT:,} (0 turns this off)."
        else:
            values[name] = int(text)
    if errors:
        raise FieldErrors(errors)
    for name, value in values.items():
        setattr(site, name, value)
    site.show_blocked_domains = bool(show_blocked_domains)
    await session.flush()
    return site

