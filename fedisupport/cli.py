"""The `fedisupport` command: init, serve, worker, migrate and admin tasks."""
from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from .settings import ConfigError, Settings, load_settings, settings_path

log = logging.getLogger("fedisupport")


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"fedisupport: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns the errors a person can fix into one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from .domain.errors import DomainError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(str(exc))
        except DomainError as exc:
            _fail(str(exc), code=1)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _settings(require_file: bool = False, **overrides: Any) -> Settings:
    return load_settings(overrides={k: v for k, v in overrides.items() if v is not None}, require_file=require_file)


def _run_db(settings: Settings, work: Callable[[Any], Awaitable[Any]], *, check: bool = True) -> Any:
    """Run `work(session)` in one transaction against a migrated database."""
    from . import db

    async def main() -> Any:
        engine = db.create_engine(settings)
        try:
            if check:
                await db.check_schema(engine, settings)
            async with db.transaction(db.session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="FEDISUPPORT_DATA_DIR",
              default="data", show_default=True, help="Where the settings file and the SQLite database live.")
@click.version_option(package_name="fedisupport")
def main(data_dir: Path) -> None:
    """fedisupport: peer-support communities that federate with Mastodon and the fediverse.

    Start with `fedisupport init --domain support.example.org`, then `fedisupport serve`.
    Settings come from DATA_DIR/fedisupport.toml and environment variables
    (FEDISUPPORT_DOMAIN, DATABASE_URL, ...), which win over the file.
    """
    # Child processes (uvicorn workers) read settings from the environment too.
    os.environ["FEDISUPPORT_DATA_DIR"] = str(data_dir)


@main.command()
@click.option("--domain", help="The public host name people will use, e.g. support.example.org.")
@click.option("--database-url", help="postgresql://user:pass@host/db; default: SQLite in the data directory.")
@click.option("--site-name", help="The instance's name, shown at the top of every page.")
@click.option("--admin-username", help="Name of the first admin account.")
@click.option("--admin-email", help="Email address of the first admin (optional).")
@click.option("--admin-password", help="Password of the first admin (prompted for on a terminal; made up otherwise).")
@click.option("--insecure-http", is_flag=True, help="Serve plain http: local development only.")
@click.option("--demo-content", is_flag=True, help="Also create a sample community with a first thread.")
def init(domain: str | None, database_url: str | None, site_name: str | None, admin_username: str | None,
         admin_email: str | None, admin_password: str | None, insecure_http: bool, demo_content: bool) -> None:
    """Write the settings file, create the database and the first admin."""
    from .setup import initialize, write_settings

    interactive = sys.stdin.isatty()
    if not domain and interactive:
        domain = click.prompt("Domain (e.g. support.example.org)")
    if not domain and not os.environ.get("FEDISUPPORT_DOMAIN"):
        raise ConfigError("give the public domain with --domain support.example.org")
    settings = _settings(domain=domain, database_url=database_url, insecure_http=insecure_http or None)
    if interactive:
        site_name = site_name or click.prompt("Name of this instance", default=settings.domain)
        admin_username = admin_username or click.prompt("Admin username", default="admin")
        if admin_password is None:
            admin_password = getpass.getpass("Admin password (empty: make one up): ") or None
    path = write_settings(settings)
    click.echo(f"Settings written to {path}")
    result = initialize(settings, site_name=site_name or settings.domain, admin_username=admin_username or "admin",
                        admin_password=admin_password, admin_email=admin_email, demo_content=demo_content)
    _report_setup(result)
    click.echo("Next: `fedisupport serve`.")


def _report_setup(result) -> None:
    if result.created_admin:
        click.echo(f"Admin account: {result.admin_username}")
        if result.admin_password:
            click.echo(f"Admin password (shown once, write it down): {result.admin_password}")
    if result.demo_community:
        click.echo(f"Sample community: /c/{result.demo_community}")


def _first_run(host: str, port: int) -> None:
    """No settings anywhere: make a local demo instance so a newcomer sees a real page at once."""
    from .setup import initialize, write_settings

    domain_host = "localhost" if host in ("0.0.0.0", "::") else host
    settings = _settings(domain=f"{domain_host}:{port}", insecure_http=True, host=host, port=port)
    click.echo("First run with no settings: creating a local demo instance.")
    path = write_settings(settings)
    click.echo(f"Settings written to {path} (edit it, or run `fedisupport init`, for a real domain).")
    result = initialize(settings, site_name="fedisupport (local demo)", demo_content=True)
    _report_setup(result)


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000).")
@click.option("--workers", type=click.IntRange(1, 64), help="Number of server processes (default 1).")
@click.option("--no-worker", is_flag=True, help="Do not run the queue worker inside the server processes.")
def serve(host: str | None, port: int | None, workers: int | None, no_worker: bool) -> None:
    """Run the web server (and, unless --no-worker, the queue worker)."""
    import uvicorn

    from . import db
    from .app import create_app

    overrides = dict(host=host, port=port, workers=workers, run_worker_in_serve=False if no_worker else None)
    data_dir = Path(os.environ["FEDISUPPORT_DATA_DIR"])
    configured = settings_path(data_dir).exists() or os.environ.get("FEDISUPPORT_DOMAIN")
    if not configured:
        _first_run(host or "127.0.0.1", port or 8000)
    settings = _settings(**overrides)
    _configure_logging(settings.log_level)

    async def check() -> None:
        engine = db.create_engine(settings)
        try:
            await db.check_schema(engine, settings)
        finally:
            await engine.dispose()

    asyncio.run(check())
    if no_worker:
        os.environ["FEDISUPPORT_RUN_WORKER_IN_SERVE"] = "false"
    click.echo(f"fedisupport for {settings.domain} listening on http://{settings.host}:{settings.port}")
    common = dict(host=settings.host, port=settings.port, log_level=settings.log_level, proxy_headers=True,
                  forwarded_allow_ips="127.0.0.1", server_header=False, access_log=settings.log_level == "debug")
    if settings.workers > 1:
        for key in ("host", "port", "workers"):
            os.environ[f"FEDISUPPORT_{key.upper()}"] = str(getattr(settings, key))
        uvicorn.run("fedisupport.app:create_app_from_env", factory=True, workers=settings.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from . import db

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    db.run_migrations(settings)
    click.echo(f"Database is at migration {db.head_revision(settings)}.")


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 1000), default=None, help="Deliveries in flight at once.")
def worker(concurrency: int | None) -> None:
    """Process received activities and send deliveries (run more of these to scale out)."""
    from .worker import run_worker_forever

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    _configure_logging(settings.log_level)
    asyncio.run(run_worker_forever(settings, concurrency=concurrency))


@main.group()
def admin() -> None:
    """Administration tasks: accounts, communities, moderators, deliveries."""


@admin.command("create-user")
@click.argument("username")
@click.option("--email")
@click.option("--password", help="Prompted for on a terminal; made up and printed otherwise.")
@click.option("--admin", "is_admin", is_flag=True, help="Make the account an instance admin.")
@click.option("--display-name")
def create_user(username: str, email: str | None, password: str | None, is_admin: bool, display_name: str | None) -> None:
    """Create a local account."""
    import secrets

    from .domain import accounts

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    made_up = None
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = made_up = secrets.token_urlsafe(12)

    async def work(session) -> Any:
        return await accounts.create_user(session, settings, username, password, email=email, is_admin=is_admin,
                                          display_name=display_name)

    _run_db(settings, work)
    click.echo(f"Created {'admin ' if is_admin else ''}account @{username.lower()}@{settings.domain}")
    if made_up:
        click.echo(f"Password (shown once): {made_up}")


@admin.command("create-community")
@click.argument("name")
@click.option("--title", required=True, help="The community's title, shown on its page.")
@click.option("--description", default="")
@click.option("--languages", default="", help="Space-separated language tags, e.g. 'en es'.")
@click.option("--approval", is_flag=True, help="Members need a moderator's approval to join.")
@click.option("--owner", help="Username of a local person who owns the community.")
def create_community(name: str, title: str, description: str, languages: str, approval: bool, owner: str | None) -> None:
    """Create a community (a Group actor others can follow)."""
    from .domain import accounts
    from .domain.errors import NotFound

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))

    async def work(session) -> Any:
        owner_actor = None
        if owner:
            owner_actor = await accounts.local_actor_by_name(session, settings, owner)
            if owner_actor is None:
                raise NotFound(f"no person named {owner!r} on this instance")
        return await accounts.create_community(session, settings, name, title, description=description,
                                               languages=languages, requires_approval=approval, owner=owner_actor)

    community = _run_db(settings, work)
    click.echo(f"Created community @{community.name}@{settings.domain} at {settings.url('/c/' + community.name)}")


@admin.command("make-moderator")
@click.argument("community")
@click.argument("username")
def make_moderator(community: str, username: str) -> None:
    """Appoint a local person as a moderator of a community."""
    from .domain import accounts

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    _run_db(settings, lambda session: accounts.make_moderator(session, settings, community, username))
    click.echo(f"@{username.lower()} now moderates {community.lower()}")


@admin.command("reset-link")
@click.argument("username")
def reset_link(username: str) -> None:
    """Make a one-time link for someone locked out to choose a new password."""
    from .domain import password_resets

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    link = _run_db(settings, lambda session: password_resets.make_link(session, settings, username))
    hours = int(password_resets.LIFETIME.total_seconds() // 3600)
    click.echo(f"Send this link to @{username.strip().lstrip('@').lower()} privately. It works once, for {hours} hours:")
    click.echo(link)


@admin.command("list-communities")
def list_communities() -> None:
    """List the communities on this instance."""
    from .domain import accounts

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    communities = _run_db(settings, accounts.list_communities)
    if not communities:
        click.echo("No communities yet. Create one with `fedisupport admin create-community NAME --title TITLE`.")
        return
    width = max(len(c.name) for c in communities)
    for c in communities:
        click.echo(f"{c.name.ljust(width)}  {c.member_count:>6} members  {c.thread_count:>6} threads  {c.title}")


@admin.command("deliveries")
@click.option("--host", help="Show one host's deliveries, newest problems first.")
@click.option("--retry-now", is_flag=True, help="With --host: retry that host's waiting deliveries now.")
def deliveries(host: str | None, retry_now: bool) -> None:
    """Show the delivery queue by host and state."""
    from .outbox import queue_report

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    if retry_now and not host:
        raise ConfigError("--retry-now needs --host")
    if host:
        if retry_now:
            n = _run_db(settings, lambda session: queue_report.retry_host_now(session, host))
            click.echo(f"{n} deliveries to {host} will be retried now.")
        for line in _run_db(settings, lambda session: queue_report.host_detail(session, host)):
            click.echo(line)
        return
    for line in _run_db(settings, queue_report.summary):
        click.echo(line)


@admin.group("domain-blocks")
def domain_blocks_group() -> None:
    """Other servers this instance suspends or limits, in Mastodon's blocklist CSV format."""


@domain_blocks_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Also change domains already listed (otherwise they are kept).")
def domain_blocks_import(file: Path, replace: bool) -> None:
    """Import a CSV (#domain,#severity,... as Mastodon exports it) or a list of domains; - reads stdin.

    Bad lines are reported with their line numbers; every good line is imported. Exits 1 if any
    line could not be used.
    """
    from .domain import domain_blocks

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{file} is not UTF-8 text") from None
    result = _run_db(settings, lambda session: domain_blocks.import_csv(
        session, text, replace=replace, source=file.name if str(file) != "-" else "standard input"))
    click.echo(f"{len(result.added)} added, {len(result.updated)} updated, "
               f"{len(result.kept)} already listed and kept as they were.")
    for problem in result.problems:
        click.echo(f"{file}: {problem}", err=True)
    if result.problems:
        sys.exit(1)


@domain_blocks_group.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--with-private-notes", is_flag=True, help="Add a #private_comment column (for your own backups).")
def domain_blocks_export(output: Path | None, with_private_notes: bool) -> None:
    """Write the list as Mastodon's domain-blocks CSV ("limit" is written as "silence")."""
    from .domain import domain_blocks

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    text = _run_db(settings, lambda session: domain_blocks.export_csv(session, include_private=with_private_notes))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote the list to {output}", err=True)


@admin.command("follow-requests")
@click.option("--approve", "approve_id", type=int, help="Approve the request with this number.")
@click.option("--reject", "reject_id", type=int, help="Turn down the request with this number.")
def follow_requests(approve_id: int | None, reject_id: int | None) -> None:
    """List requests to join communities that need approval, or approve/reject one."""
    from sqlalchemy import select

    from .domain import following
    from .models import Actor, Community, Follow, HeldItem

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    if approve_id or reject_id:
        held_id = approve_id or reject_id
        _run_db(settings, lambda session: following.decide_held_follow(session, settings, held_id, approve=bool(approve_id)))
        click.echo(f"Request {held_id} {'approved' if approve_id else 'turned down'}.")
        return

    async def pending(session) -> list:
        return list((await session.execute(
            select(HeldItem.id, Actor.username, Actor.domain, Community.name, HeldItem.created_at)
            .join(Follow, Follow.id == HeldItem.follow_id).join(Actor, Actor.id == Follow.follower_id)
            .join(Community, Community.id == HeldItem.community_id)
            .where(HeldItem.kind == "follow", HeldItem.state == "pending").order_by(HeldItem.created_at)
        )).all())

    rows = _run_db(settings, pending)
    if not rows:
        click.echo("No requests waiting.")
    for row in rows:
        click.echo(f"{row.id:>6}  @{row.username}@{row.domain} asks to join {row.name} ({row.created_at:%Y-%m-%d %H:%M})")


@admin.command("seed-crisis-services")
def seed_crisis_services() -> None:
    """Add the crisis services and crisis-signal phrases that ship with fedisupport.

    Only what is missing is added: services and phrases already here, including ones an admin
    edited or turned off, are left exactly as they are. `init` runs this too.
    """
    from . import care

    settings = _settings(require_file=not os.environ.get("FEDISUPPORT_DOMAIN"))
    services, phrases = _run_db(settings, care.seed_all)
    click.echo(f"Added {services} crisis services and {phrases} crisis-signal phrases "
               "(the rest were already there).")
    click.echo("Please check each number against its source at /admin/care/services before you rely on it.")


if __name__ == "__main__":  # pragma: no cover
    main()
