"""create_app(settings) -> the Starlette application: routes, middleware and lifespan."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .inbox.writer import InboxWriter
from .services import open_services
from .worker import Worker
from .settings import Settings, load_settings
from . import i18n
from .web import locale
from .web import about_pages, account_pages, admin_pages, password_reset_pages, ap_routes, care_pages, community_settings_pages, discover_pages, inbox_routes, moderation_pages, pages, post_routes, pseudonym_pages, translation_pages
from .web.security_headers import SecurityHeaders
from .web.inbox_door import InboxDoor

log = logging.getLogger("fedisupport")
WEB_DIR = Path(__file__).parent / "web"


def create_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"), context_processors=[locale.template_context])
    templates.env.globals["settings"] = settings
    # Templates mark their text with {{ _("...") }} / {% trans %}; new-style gettext escapes the
    # translation and fills %(name)s placeholders itself. The callables look up the language
    # web/locale.py chose for this request (docs/i18n.md).
    templates.env.add_extension("jinja2.ext.i18n")
    templates.env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks may wrap over lines
    templates.env.install_gettext_callables(i18n.template_gettext, i18n.template_ngettext, newstyle=True)
    templates.env.filters["format_date"] = i18n.format_date
    return templates


def create_app(settings: Settings, *, check_schema: bool = True) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings, check_schema=check_schema) as services:
            app.state.services = services
            app.state.engine = services.engine
            app.state.sessions = services.sessions
            writer = app.state.inbox_writer = InboxWriter(services)
            writer.start()
            worker = Worker(services) if settings.run_worker_in_serve else None
            worker_task = asyncio.create_task(worker.run_forever(), name="worker") if worker else None
            try:
                yield
            finally:
                if worker_task is not None:
                    worker.stop()
                    worker_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker_task
                await writer.stop()

    app = Starlette(
        routes=[*inbox_routes.routes(), *discover_pages.routes(), *community_settings_pages.routes(), *ap_routes.routes(), *post_routes.routes(), *care_pages.routes(), *moderation_pages.routes(), *pseudonym_pages.routes(), *translation_pages.routes(), *pages.routes(), *locale.routes(), *account_pages.routes(), *admin_pages.routes(), *about_pages.routes(), *password_reset_pages.routes(), Mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")],
        # InboxDoor sends inbox POSTs straight to their handler, past locale and routing (web/inbox_door.py).
        middleware=[Middleware(SecurityHeaders), Middleware(InboxDoor), Middleware(locale.LocaleMiddleware)],
        lifespan=lifespan,
        exception_handlers=pages.exception_handlers(),
    )
    app.state.settings = settings
    app.state.templates = create_templates(settings)
    return app


def create_app_from_env() -> Starlette:
    """Factory for uvicorn's worker processes, which read settings the same way the CLI does."""
    return create_app(load_settings(require_file=False))
