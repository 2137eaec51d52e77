"""What this instance does with other servers: domain policies, and Mastodon's blocklist CSV.

A policy covers a domain and its subdomains. Severities: suspend (nothing in or out), limit
(accepted, held for review, never passed on), noop (only reject_media / reject_reports apply).

Mastodon's export (`#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate`)
calls "limit" "silence"; we read and write that word. Private comments are ours alone: they
are not part of Mastodon's format and are exported only when asked (for a backup).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Delivery, DomainPolicy, utcnow
from ..models.queues import FAILED, QUEUED
from ..policy import rules
from .errors import DomainError, NotFound

HEADER = ("#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate")
PRIVATE_COLUMN = "#private_comment"
POSITIONAL = tuple(name.lstrip("#") for name in HEADER)
TO_MASTODON = {"suspend": "suspend", "limit": "silence", "noop": "noop"}
FROM_MASTODON = {"suspend": "suspend", "silence": "limit", "limit": "limit", "noop": "noop", "none": "noop"}
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0", ""}
MAX_ROWS = 20_000  # as Mastodon's importer
MAX_COMMENT = 1000

SEVERITY_LABELS = {
    "suspend": "Suspended: nothing is exchanged with it",
    "limit": "Limited: what comes from it is reviewed first and never passed on",
    "noop": "No limit on posts",
}


class FieldErrors(DomainError):
    """Form mistakes, one message per field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# --- one policy --------------------------------------------------------------------------------


@dataclass
class PolicyValues:
    domain: str
    severity: str = "suspend"
    reject_media: bool = False
    reject_reports: bool = False
    public_comment: str = ""
    private_comment: str = ""
    obfuscate: bool = False


def clean_values(values: PolicyValues) -> PolicyValues:
    """The values as stored, or FieldErrors saying what to change."""
    errors: dict[str, str] = {}
    try:
        domain = rules.normalize_domain(values.domain)
    except ValueError:
        domain = (values.domain or "").strip()
        errors["domain"] = ("Please enter a domain name such as example.social (without https:// or a path). "
                            if "*" not in domain else
                            "This domain is partly hidden with stars, so we can't tell which server it is. "
                            "Please enter the full name.")
    if values.severity not in rules.SEVERITIES:
        errors["severity"] = "Please choose what happens to this domain."
    public = (values.public_comment or "").strip()
    private = (values.private_comment or "").strip()
    if len(public) > MAX_COMMENT:
        errors["public_comment"] = f"Please keep the public reason to {MAX_COMMENT} characters or fewer."
    if len(private) > MAX_COMMENT:
        errors["private_comment"] = f"Please keep the private note to {MAX_COMMENT} characters or fewer."
    if errors:
        raise FieldErrors(errors)
    return PolicyValues(domain, values.severity, bool(values.reject_media), bool(values.reject_reports), public,
                        private, bool(values.obfuscate))


async def list_policies(session: AsyncSession) -> list[DomainPolicy]:
    return list(await session.scalars(select(DomainPolicy).order_by(DomainPolicy.domain)))


async def get_policy(session: AsyncSession, domain: str) -> DomainPolicy | None:
    try:
        domain = rules.normalize_domain(domain)
    except ValueError:
        return None
    return await session.get(DomainPolicy, domain)


async def _stop_deliveries(session: AsyncSession, domain: str) -> None:
    """A suspension also stops what is already queued for the domain and its subdomains."""
    await session.execute(
        update(Delivery).where(Delivery.state == QUEUED, or_(
            Delivery.host == domain, Delivery.host.like(f"%.{domain}"), Delivery.host.like(f"{domain}:%"),
            Delivery.host.like(f"%.{domain}:%")))
        .values(state=FAILED, last_error=f"not sent: {domain} is suspended here", locked_until=None))


def _apply(row: DomainPolicy, values: PolicyValues) -> None:
    row.severity = values.severity
    row.reject_media = values.reject_media
    row.reject_reports = values.reject_reports
    row.public_comment = values.public_comment
    row.private_comment = values.private_comment
    row.obfuscate = values.obfuscate


async def save_policy(session: AsyncSession, values: PolicyValues, *, new: bool = False) -> DomainPolicy:
    """Add (new=True: Conflict-free only if absent) or change a domain's policy."""
    values = clean_values(values)
    row = await session.get(DomainPolicy, values.domain)
    if row is None:
        row = DomainPolicy(domain=values.domain, created_at=utcnow())
        session.add(row)
    elif new:
        raise FieldErrors({"domain": f"{values.domain} is already on the list. You can change it there."})
    _apply(row, values)
    await session.flush()
    if row.severity == "suspend":
        await _stop_deliveries(session, row.domain)
    rules.policy_changed(session)
    return row


async def remove_policy(session: AsyncSession, domain: str) -> None:
    row = await get_policy(session, domain)
    if row is None:
        raise NotFound("That domain isn't on the list any more.")
    await session.delete(row)
    await session.flush()
    rules.policy_changed(session)


# --- Mastodon's CSV ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Parsed:
    rows: list[tuple[int, PolicyValues]] = field(default_factory=list)  # (line, values)
    problems: list[Problem] = field(default_factory=list)


def _flag(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    return None


def parse_csv(text: str) -> Parsed:
    """Rows of a Mastodon domain-blocks CSV (or a plain list of domains, one a line).

    Each bad row becomes a Problem with its line number; the good rows are all kept.
    """
    result = Parsed()
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    seen: dict[str, int] = {}
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not record or all(not cell.strip() for cell in record):
                continue
            first = record[0].strip().lower()
            if header is None and first in ("#domain", "domain"):
                header = [cell.strip().lower().lstrip("#") for cell in record]
                continue
            if header is None and start == 1 and len(record) > 1 and first.startswith("#"):
                result.problems.append(Problem(start, "the first line looks like a header but has no #domain column"))
                return result
            if len(result.rows) >= MAX_ROWS:
                result.problems.append(Problem(start, f"only the first {MAX_ROWS} rows are read"))
                break
            if first.startswith("#") and header is not None:
                continue  # a comment line
            names = header or list(POSITIONAL)  # no header: Mastodon's column order
            cells = {names[i]: record[i] for i in range(min(len(names), len(record)))}
            values, problem = _row_values(cells)
            if problem:
                result.problems.append(Problem(start, problem))
                continue
            if values.domain in seen:
                result.problems.append(Problem(start, f"{values.domain} is already on line {seen[values.domain]}; "
                                                      "the first one is kept"))
                continue
            seen[values.domain] = start
            result.rows.append((start, values))
    except csv.Error as exc:
        result.problems.append(Problem(line, f"the file stops making sense as CSV here ({exc})"))
    return result


def _row_values(cells: dict[str, str]) -> tuple[PolicyValues | None, str | None]:
    raw_domain = (cells.get("domain") or "").strip()
    if not raw_domain:
        return None, "no domain"
    severity_text = (cells.get("severity") or "suspend").strip().lower() or "suspend"
    severity = FROM_MASTODON.get(severity_text)
    if severity is None:
        return None, f"“{severity_text}” is not a severity (use suspend, silence or noop)"
    flags = {}
    for name in ("reject_media", "reject_reports", "obfuscate"):
        value = _flag(cells.get(name))
        if value is None:
            return None, f"{name} should be true or false, not “{cells.get(name)}”"
        flags[name] = value
    try:
        values = clean_values(PolicyValues(raw_domain, severity, public_comment=cells.get("public_comment") or "",
                                           private_comment=cells.get("private_comment") or "", **flags))
    except FieldErrors as exc:
        if "domain" in exc.errors:
            if "*" in raw_domain:
                return None, f"“{raw_domain}” is partly hidden with stars, so it can't be blocked as written"
            return None, f"“{raw_domain}” is not a domain name"
        return None, "; ".join(exc.errors.values())
    return values, None


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already listed, left as they were
    problems: list[Problem] = field(default_factory=list)


async def import_csv(session: AsyncSession, text: str, *, replace: bool = False, source: str = "",
                     now: dt.datetime | None = None) -> ImportResult:
    """Add the file's domains. Domains already listed stay as they are unless `replace`.

    New rows without a private note get one saying where they came from, as Mastodon does.
    """
    parsed = parse_csv(text)
    result = ImportResult(problems=parsed.problems)
    existing = {row.domain: row for row in await list_policies(session)}
    note = f"Imported from {source or 'a file'} on {(now or utcnow()):%Y-%m-%d}"
    for _, values in parsed.rows:
        row = existing.get(values.domain)
        if row is not None and not replace:
            result.kept.append(values.domain)
            continue
        if row is None:
            values.private_comment = values.private_comment or note
            row = DomainPolicy(domain=values.domain, created_at=utcnow())
            session.add(row)
            existing[values.domain] = row
            result.added.append(values.domain)
        else:
            values.private_comment = values.private_comment or row.private_comment
            result.updated.append(values.domain)
        _apply(row, values)
    await session.flush()
    for domain in result.added + result.updated:
        if existing[domain].severity == "suspend":
            await _stop_deliveries(session, domain)
    rules.policy_changed(session)
    return result


def to_csv(policies: list[DomainPolicy], *, include_private: bool = False) -> str:
    """Mastodon's export format, sorted by domain; booleans as true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER + ((PRIVATE_COLUMN,) if include_private else ()))
    for row in sorted(policies, key=lambda p: p.domain):
        cells = [row.domain, TO_MASTODON.get(row.severity, row.severity), _bool(row.reject_media),
                 _bool(row.reject_reports), row.public_comment or "", _bool(row.obfuscate)]
        if include_private:
            cells.append(row.private_comment or "")
        writer.writerow(cells)
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"


async def export_csv(session: AsyncSession, *, include_private: bool = False) -> str:
    return to_csv(await list_policies(session), include_private=include_private)


# --- the public list -----------------------------------------------------------------------------


def obfuscate(domain: str) -> str:
    """A domain partly starred, as Mastodon shows obfuscated blocks: ends kept, dots kept."""
    length = len(domain)
    visible = length // 4
    return "".join(ch if i <= visible or i >= length - visible or ch == "." else "*"
                   for i, ch in enumerate(domain))


@dataclass(frozen=True)
class PublicEntry:
    domain: str
    severity: str
    reason: str
    reject_media: bool
    reject_reports: bool


async def public_list(session: AsyncSession) -> list[PublicEntry]:
    """What the public page shows: every policy, obfuscated ones starred, with its public reason."""
    entries = [PublicEntry(obfuscate(p.domain) if p.obfuscate else p.domain, p.severity, p.public_comment,
                           p.reject_media, p.reject_reports) for p in await list_policies(session)]
    order = {"suspend": 0, "limit": 1, "noop": 2}
    return sorted(entries, key=lambda e: (order.get(e.severity, 3), e.domain))

