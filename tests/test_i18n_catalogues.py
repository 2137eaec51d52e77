"""The interface's catalogues: complete, not fuzzy, placeholders intact, and in step with the code.

When this fails after you changed some text: run `scripts/update-translations.sh`, then translate
the new entries in fedisupport/locale/*/LC_MESSAGES/messages.po (docs/i18n.md).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from fedisupport import i18n

ROOT = Path(__file__).resolve().parent.parent
POT = i18n.LOCALE_DIR / "messages.pot"
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_without_fuzzy_entries(code: str) -> None:
    template = _catalog(POT)
    catalog = _catalog(i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po", code)
    assert _ids(template) - _ids(catalog) == set(), f"{code}: msgids missing, run scripts/update-translations.sh"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(forms):
            problems.append(message.id)
    assert problems == [], f"{code}: untranslated or fuzzy: {problems[:10]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_the_placeholders(code: str) -> None:
    catalog = _catalog(i18n.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po", code)
    # Babel's own checkers: python-format placeholders and the number of plural forms.
    errors = [(message.id, [str(e) for e in errs]) for message, errs in catalog.check()]
    assert errors == []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set().union(*(PLACEHOLDER.findall(part) for part in ids))
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == wanted, (code, message.id, form)
        # HTML in a message (links, <strong>) must survive translation tag for tag.
        for form in forms:
            assert sorted(re.findall(r"</?\w+", form)) == sorted(re.findall(r"</?\w+", ids[0])), (code, message.id)


def test_the_template_is_up_to_date_with_code_and_templates(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    "-k", "lazy_gettext", "--no-location", "--omit-header", "-o", str(fresh), "fedisupport"],
                   cwd=ROOT, check=True)
    new = _ids(_catalog(fresh)) - _ids(_catalog(POT))
    gone = _ids(_catalog(POT)) - _ids(_catalog(fresh))
    assert (new, gone) == (set(), set()), "run scripts/update-translations.sh and translate what is new"


def test_catalogues_compile_and_translate() -> None:
    """What the app loads: a real lookup and a real plural in each language."""
    seen = set()
    for code in TRANSLATED:
        i18n.activate(code)
        seen.add(i18n.gettext("Get help now"))
        three = i18n.ngettext("%(num)s reply", "%(num)s replies", 3)
        assert "3" in three and "replies" not in three
    i18n.activate("en")
    assert len(seen) == len(TRANSLATED) and "Get help now" not in seen
