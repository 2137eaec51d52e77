"""The interface's languages: catalogues, the current reader's language, and gettext for Python code.

The `.po` files under `fedisupport/locale/` are the one source of truth: they are read with
Babel when first needed (no compiled `.mo` files to fall out of step). `docs/i18n.md` says how
the reader's language is chosen and how translators work.

Python code marks text with `_("...")` (or `ngettext`) from here; it is translated into the
language of the request being served, which `web/locale.py` sets in a context variable. Text
made once at import time uses `lazy_gettext`, so it is translated each time it is shown. Outside
a request (the CLI, the worker) everything is English.
"""
from __future__ import annotations

import contextvars
import gettext as _gettext
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself, as a reader looks for it
    direction: str  # "ltr" or "rtl"


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "es": Language("es", "Español", "ltr"),
    "hi": Language("hi", "हिन्दी", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("fedisupport_language", default=DEFAULT)
_catalogues: dict[str, _gettext.NullTranslations] = {}


def supported(code: str | None) -> str | None:
    """The language we have for a tag (`es-MX` -> `es`), or None."""
    if not code:
        return None
    primary = code.strip().split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else None


def translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue for a language, read from its .po file once per process."""
    found = _catalogues.get(code)
    if found is None:
        path = LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
        if code == DEFAULT or not path.exists():
            found = _gettext.NullTranslations()
        else:
            with path.open("rb") as po:
                catalog = read_po(po, locale=code)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)  # fuzzy entries are left out, as gettext would
            buffer.seek(0)
            found = _gettext.GNUTranslations(buffer)
        _catalogues[code] = found
    return found


def activate(code: str) -> None:
    """Serve the rest of this request (this task) in `code`."""
    _current.set(code if code in LANGUAGES else DEFAULT)


def current() -> Language:
    return LANGUAGES[_current.get()]


def gettext(message: str, **variables: Any) -> str:
    text = translations(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(_current.get()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


class LazyString:
    """Text translated when it is shown, for messages defined at import time."""

    __slots__ = ("message", "variables")

    def __init__(self, message: str, **variables: Any) -> None:
        self.message = message
        self.variables = variables

    def __str__(self) -> str:
        return gettext(self.message, **self.variables)

    def __html__(self) -> str:  # jinja2 escapes str(); this keeps it from being called twice
        from markupsafe import escape

        return str(escape(str(self)))

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.message)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __repr__(self) -> str:
        return f"LazyString({self.message!r})"


def lazy_gettext(message: str, **variables: Any) -> LazyString:
    return LazyString(message, **variables)


# For templates: jinja2's new-style gettext fills the placeholders and escapes; these only look up.
def template_gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def template_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


# Dates: English pages keep the compact patterns they always had; other languages get their
# own conventions (month names, order, digits) from CLDR through Babel.
_EN_PATTERNS = {"date": "dd MMM y", "datetime": "dd MMM y, HH:mm", "month": "MMMM y"}
_SKELETONS = {"date": "yMMMd", "month": "yMMMM"}


def format_date(moment: Any, form: str = "date") -> str:
    """`{{ post.published_at|format_date }}`, `|format_date('datetime')` or `|format_date('month')`."""
    from babel.dates import format_date as babel_date, format_datetime, format_skeleton, format_time

    code = _current.get()
    if code == DEFAULT:
        return format_datetime(moment, _EN_PATTERNS[form], tzinfo=None, locale="en") if form == "datetime" \
            else babel_date(moment, _EN_PATTERNS[form], locale="en")
    if form == "datetime":
        return f"{format_skeleton('yMMMd', moment, locale=code)}, {format_time(moment, 'short', locale=code)}"
    return format_skeleton(_SKELETONS[form], moment, locale=code)


def format_number(value: int | float) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=_current.get())
