"""Which languages posts may be written in, and which of them a reader or writer prefers.

Tags are BCP 47 primary language subtags ("es", not "es-MX"): enough to tell readers apart,
and what Mastodon and Lemmy send for almost every post. A post written here must carry one of
the known tags or one of its community's languages; posts from other servers keep the tag
their server sent, so the community filter also matches regional tags ("es" finds "es-MX").
"""
from __future__ import annotations

import re
from typing import Iterable

# Each name in its own language, as a reader looking for theirs expects to see it.
LANGUAGE_NAMES = {
    "en": "English", "es": "Español", "hi": "हिन्दी", "ar": "العربية", "fr": "Français", "de": "Deutsch",
    "pt": "Português", "it": "Italiano", "nl": "Nederlands", "pl": "Polski", "tr": "Türkçe", "uk": "Українська",
    "ru": "Русский", "fa": "فارسی", "ur": "اردو", "he": "עברית", "bn": "বাংলা", "zh": "中文", "ja": "日本語",
    "ko": "한국어", "id": "Bahasa Indonesia", "sw": "Kiswahili",
}
# What a community offers when its admins named no languages.
DEFAULT_LANGUAGES = ("en", "es", "hi", "ar")
_PRIMARY = re.compile(r"^[a-z]{2,3}$")
_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def is_tag(value: str | None) -> bool:
    """A BCP 47 tag we can store and match ("und", undetermined, says nothing and is not one)."""
    return bool(value) and len(value) <= 16 and value.lower() != "und" and bool(_TAG.fullmatch(value))


def primary(tag: str | None) -> str | None:
    """The primary subtag, lower case: "es-MX" -> "es"; None for anything that is not a tag."""
    first = (tag or "").strip().split("-")[0].lower()
    return first if _PRIMARY.match(first) else None


def name_of(tag: str | None) -> str:
    """A language's name in itself, or the tag when we have no name for it."""
    return LANGUAGE_NAMES.get(primary(tag) or "", tag or "")


def name_for_reader(tag: str | None) -> str:
    """A language's name in the reader's language, for sentences: "el original está en inglés".

    Choosers keep `name_of` (each name in itself). English pages keep the names they always showed,
    as dates do (i18n.format_date); other languages take theirs from CLDR through Babel.
    """
    from babel import Locale

    from .. import i18n

    reader = i18n.current().code
    if reader == i18n.DEFAULT:
        return name_of(tag)
    return Locale.parse(reader).languages.get(primary(tag) or "") or name_of(tag)


def community_languages(languages: str | None) -> list[str]:
    """The primary tags a community writes in (its `languages` setting), in its order."""
    tags = [primary(t) for t in (languages or "").split()]
    return list(dict.fromkeys(t for t in tags if t)) or list(DEFAULT_LANGUAGES)


def known(community_languages_setting: str | None = None) -> list[str]:
    """Every tag a post or translation written here may carry: the community's first, then the rest."""
    return list(dict.fromkeys([*community_languages(community_languages_setting), *LANGUAGE_NAMES]))


def choices(tags: Iterable[str]) -> list[tuple[str, str]]:
    """(tag, name) pairs for a <select>."""
    return [(tag, name_of(tag)) for tag in tags]


def valid(tag: str | None, community_languages_setting: str | None = None) -> str | None:
    """The tag, normalised, when a post here may be written in it; None otherwise."""
    value = (tag or "").strip().lower()
    return value if _PRIMARY.match(value) and value in known(community_languages_setting) else None


def default_for_writer(interface_language: str | None, community_languages_setting: str | None) -> str:
    """The language a new post starts in: the writer's interface language when the community
    accepts it, else the community's first language."""
    offered = community_languages(community_languages_setting)
    wanted = primary(interface_language)
    return wanted if wanted in offered else offered[0]


def best_match(wanted: Iterable[str], available: Iterable[str]) -> str | None:
    """The first of the reader's languages (best first) that one of `available` is written in.

    Matching is by primary subtag, so a reader of "es-MX" gets the "es" version.
    """
    by_primary: dict[str, str] = {}
    for tag in available:
        if tag and primary(tag) and primary(tag) not in by_primary:
            by_primary[primary(tag)] = tag
    for tag in wanted:
        found = by_primary.get(primary(tag) or "")
        if found is not None:
            return found
    return None
