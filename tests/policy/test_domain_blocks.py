"""Mastodon's domain-blocks CSV in and out: lossless both ways, bad lines named, good lines kept."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fedisupport.domain import domain_blocks
from fedisupport.domain.domain_blocks import PolicyValues
from fedisupport.domain.errors import NotFound
from fedisupport.models import Delivery, DomainPolicy, OutboxActivity
from fedisupport.policy import check
from fedisupport.policy.decisions import Verdict
from tests.policy.conftest import local_person

# As Mastodon 4.x exports it (Admin > Federation > Export): its header, sorted rows, lowercase
# booleans, quotes only where a comment needs them, "silence" for limited servers.
MASTODON_EXPORT = '''\
#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
abuse.example,suspend,true,true,"Harassment, doxxing and threats",false
bigspam.example,suspend,false,false,Spam,false
cdn-pics.example,noop,true,false,Media we can't moderate,false
edgy.example,silence,false,false,"Mocks people who ask for help; says ""just kidding""",false
harmful.example,suspend,true,true,Promotes self-harm,true
loud.example,silence,false,true,,false
mal.example,suspend,false,false,"Acoso y discurso de odio. Mehr: ""siehe unten""",false
trolls.example,silence,true,false,"Trolling
across several lines",true
أمثلة.example,suspend,false,false,خطاب كراهية,false
'''


async def imported(world, text: str, **kwargs) -> domain_blocks.ImportResult:
    return await world(lambda s: domain_blocks.import_csv(s, text, source="domain_blocks.csv", **kwargs))


async def exported(world, **kwargs) -> str:
    return await world(lambda s: domain_blocks.export_csv(s, **kwargs))


async def stored(world) -> dict[str, DomainPolicy]:
    return {p.domain: p for p in await world(domain_blocks.list_policies)}


async def test_a_mastodon_export_round_trips_exactly(world):
    result = await imported(world, MASTODON_EXPORT)
    assert result.problems == [] and len(result.added) == 9
    policies = await stored(world)
    assert policies["edgy.example"].severity == "limit"  # Mastodon's "silence"
    assert policies["cdn-pics.example"].severity == "noop" and policies["cdn-pics.example"].reject_media
    assert policies["harmful.example"].obfuscate
    assert policies["trolls.example"].public_comment == "Trolling\nacross several lines"
    assert policies["edgy.example"].public_comment == 'Mocks people who ask for help; says "just kidding"'
    assert "xn--" in "".join(policies)  # the Arabic name is stored as IDNA, as hosts arrive
    assert policies["bigspam.example"].private_comment.startswith("Imported from domain_blocks.csv on ")
    idna = next(d for d in policies if d.startswith("xn--"))
    assert await exported(world) == MASTODON_EXPORT.replace("أمثلة.example", idna)


async def test_other_spellings_of_the_format_import_the_same(world):
    """What other tools write: TRUE/FALSE, CRLF, a byte-order mark, columns reordered or extra, a
    plain header, blank lines, trailing dots and upper case in names."""
    variant = ("\ufeffdomain,severity,obfuscate,public_comment,reject_reports,reject_media,#note\r\n"
               "Abuse.Example.,SUSPEND,FALSE,\"Harassment, doxxing and threats\",TRUE,TRUE,from iftas\r\n"
               "\r\n"
               "bigspam.example,suspend,0,Spam,no,n,\r\n"
               "loud.example,silence,false,,true,false,\r\n")
    result = await imported(world, variant)
    assert result.problems == [] and sorted(result.added) == ["abuse.example", "bigspam.example", "loud.example"]
    lines = MASTODON_EXPORT.splitlines()
    assert await exported(world) == "\n".join([lines[0], lines[1], lines[2], lines[6]]) + "\n"


async def test_bad_lines_are_named_and_the_good_ones_kept(world):
    text = ("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
            "good.example,suspend,false,false,,false\n"                 # 2
            "ba**.example,suspend,false,false,starred,false\n"          # 3
            "\"two\nline.example\",suspend,false,false,,false\n"        # 4-5
            "also-good.example,silence,false,false,\"a\nlong\nreason\",false\n"  # 6-8
            "meh.example,shadowban,false,false,,false\n"                 # 9
            "good.example,noop,false,false,,false\n"                     # 10
            "flag.example,suspend,sometimes,false,,false\n"              # 11
            ",suspend,false,false,,false\n"                              # 12
            "https://with-scheme.example/,suspend,false,false,,false\n"  # 13
            "last.example,noop,true,false,,false\n")                     # 14
    result = await imported(world, text)
    assert [(p.line, p.message.split(" ")[0]) for p in result.problems] == [
        (3, "“ba**.example”"), (4, "“two\nline.example”"), (9, "“shadowban”"), (10, "good.example"),
        (11, "reject_media"), (12, "no")]
    assert "partly hidden with stars" in result.problems[0].message
    assert "already on line 2" in result.problems[3].message
    assert sorted(result.added) == ["also-good.example", "good.example", "last.example", "with-scheme.example"]
    assert (await stored(world))["also-good.example"].public_comment == "a\nlong\nreason"


async def test_a_plain_list_of_domains_suspends_them(world):
    result = await imported(world, "one.example\ntwo.example\n\nthree.example\n")
    assert sorted(result.added) == ["one.example", "three.example", "two.example"]
    assert {p.severity for p in (await stored(world)).values()} == {"suspend"}


async def test_domains_already_listed_keep_the_admins_choice_unless_replaced(world):
    await world(lambda s: domain_blocks.save_policy(s, PolicyValues("loud.example", "suspend", private_comment="ours")))
    result = await imported(world, MASTODON_EXPORT)
    assert result.kept == ["loud.example"] and len(result.added) == 8
    assert (await stored(world))["loud.example"].severity == "suspend"

    again = await imported(world, MASTODON_EXPORT)
    assert again.added == [] and len(again.kept) == 9

    replaced = await imported(world, MASTODON_EXPORT, replace=True)
    assert len(replaced.updated) == 9
    loud = (await stored(world))["loud.example"]
    assert loud.severity == "limit" and loud.reject_reports
    assert loud.private_comment == "ours"  # a private note the file doesn't carry is kept


async def test_a_backup_with_private_notes_restores_them(world):
    await world(lambda s: domain_blocks.save_policy(
        s, PolicyValues("a.example", "limit", public_comment="spam", private_comment="see ticket #12, decided by Sam")))
    backup = await exported(world, include_private=True)
    assert backup.splitlines()[0].endswith(",#private_comment")
    assert "see ticket #12" not in await exported(world)  # never in what you'd share
    await world(lambda s: domain_blocks.remove_policy(s, "a.example"))
    await imported(world, backup)
    assert (await stored(world))["a.example"].private_comment == "see ticket #12, decided by Sam"
    assert await exported(world, include_private=True) == backup


async def test_a_suspension_stops_what_is_already_queued(world):
    async def queue(session):
        person = await local_person(session, world.settings)
        activity = OutboxActivity(ap_id="https://here.test/activities/1", actor_id=person.id, type="Create", body="{}")
        session.add(activity)
        await session.flush()
        for host in ("bad.example", "sub.bad.example", "bad.example:8443", "notbad.example", "good.example"):
            session.add(Delivery(activity_id=activity.id, inbox_url=f"https://{host}/inbox", host=host))
    await world(queue)
    await world(lambda s: domain_blocks.save_policy(s, PolicyValues("bad.example", "suspend"), new=True))
    rows = await world(lambda s: s.execute(select(Delivery.host, Delivery.state)))
    assert dict(rows.all()) == {"bad.example": "failed", "sub.bad.example": "failed", "bad.example:8443": "failed",
                                "notbad.example": "queued", "good.example": "queued"}


async def test_imports_take_effect_at_once(world):
    assert (await world(lambda s: check.check_delivery(s, "bigspam.example"))).verdict == Verdict.ACCEPT
    await imported(world, MASTODON_EXPORT)
    assert (await world(lambda s: check.check_delivery(s, "bigspam.example"))).verdict == Verdict.REJECT
    assert (await world(lambda s: check.check_domain(s, "edgy.example"))).verdict == Verdict.HOLD


@pytest.mark.parametrize("domain, shown", [
    ("harmful.example", "harm***.****ple"),
    ("example.com", "exa****.*om"),
    ("a.b", "a.*"),
])
def test_obfuscation_stars_the_middle_as_mastodon_does(domain, shown):
    assert domain_blocks.obfuscate(domain) == shown


async def test_the_public_list_hides_what_should_be_hidden(world):
    await imported(world, MASTODON_EXPORT)
    entries = await world(domain_blocks.public_list)
    shown = {e.domain: e for e in entries}
    assert "harmful.example" not in shown and "harm***.****ple" in shown
    assert [e.severity for e in entries] == sorted((e.severity for e in entries),
                                                  key=["suspend", "limit", "noop"].index)
    assert all("Imported from" not in e.reason for e in entries)


@pytest.mark.parametrize("values, field", [
    (PolicyValues("not a domain"), "domain"),
    (PolicyValues("half*.example"), "domain"),
    (PolicyValues("localhostish"), "domain"),
    (PolicyValues("ok.example", "obliterate"), "severity"),
    (PolicyValues("ok.example", public_comment="x" * 1001), "public_comment"),
])
async def test_form_mistakes_name_their_field(world, values, field):
    with pytest.raises(domain_blocks.FieldErrors) as caught:
        await world(lambda s: domain_blocks.save_policy(s, values, new=True))
    assert field in caught.value.errors


async def test_adding_a_listed_domain_says_so(world):
    await world(lambda s: domain_blocks.save_policy(s, PolicyValues("dup.example"), new=True))
    with pytest.raises(domain_blocks.FieldErrors, match="already on the list"):
        await world(lambda s: domain_blocks.save_policy(s, PolicyValues("DUP.example."), new=True))
    with pytest.raises(NotFound):
        await world(lambda s: domain_blocks.remove_policy(s, "never.example"))
