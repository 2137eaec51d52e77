"""`fedisupport admin domain-blocks import|export`: real processes, real databases."""
from __future__ import annotations

from tests.test_cli import db_env, run  # noqa: F401  (db_env is a fixture)

HEADER = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
LIST = (f"{HEADER}\n"
        "spam.example,suspend,false,false,Spam,false\n"
        "???,suspend,false,false,,false\n"
        "loud.example,silence,false,true,\"Pile-ons, mostly\",true\n")


def test_import_reports_bad_lines_and_export_writes_mastodons_format(tmp_path, db_env):  # noqa: F811
    data = tmp_path / "data"
    init = run(["init", "--domain", "support.example.org", "--admin-password", "a long enough password"], data, db_env)
    assert init.returncode == 0, init.stderr
    blocklist = tmp_path / "blocklist.csv"
    blocklist.write_text(LIST, encoding="utf-8")

    imported = run(["admin", "domain-blocks", "import", str(blocklist)], data, db_env)
    assert imported.returncode == 1  # one line couldn't be used …
    assert "2 added, 0 updated, 0 already listed" in imported.stdout  # … and the rest were imported
    assert "blocklist.csv: line 3: “???” is not a domain name" in imported.stderr

    exported = run(["admin", "domain-blocks", "export"], data, db_env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == (f"{HEADER}\n"
                               "loud.example,silence,false,true,\"Pile-ons, mostly\",true\n"
                               "spam.example,suspend,false,false,Spam,false\n")

    again = run(["admin", "domain-blocks", "import", "-"], data, db_env, input="spam.example\nnew.example\n")
    assert again.returncode == 0, again.stderr
    assert "1 added, 0 updated, 1 already listed" in again.stdout

    backup = tmp_path / "backup.csv"
    written = run(["admin", "domain-blocks", "export", "--with-private-notes", "-o", str(backup)], data, db_env)
    assert written.returncode == 0, written.stderr
    text = backup.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER + ",#private_comment"
    assert "Imported from blocklist.csv on " in text and "Imported from standard input on " in text
