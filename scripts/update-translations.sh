#!/bin/sh
# Refresh the interface's catalogues after changing any text (docs/i18n.md):
#   1. extract every marked string from the code and templates into fedisupport/locale/messages.pot;
#   2. merge it into each language's messages.po (new strings arrive empty, gone ones are dropped).
# Then translate the empty entries; tests/test_i18n_catalogues.py fails until none are left.
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
mkdir -p fedisupport/locale
"$PYBABEL" extract -F babel.cfg -k lazy_gettext --no-location --sort-output --omit-header \
    -o fedisupport/locale/messages.pot fedisupport
for lang in es hi ar; do
    po="fedisupport/locale/$lang/LC_MESSAGES/messages.po"
    if [ -f "$po" ]; then
        "$PYBABEL" update -i fedisupport/locale/messages.pot -d fedisupport/locale -l "$lang" \
            --no-fuzzy-matching --ignore-obsolete
    else
        "$PYBABEL" init -i fedisupport/locale/messages.pot -d fedisupport/locale -l "$lang"
    fi
done
