"""create_app(settings) -> the Starlette application: routes, middleware and lifespan."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import db
from .settings import Settings, load_settings
from .web import pages
from .web.security_headers import SecurityHeaders

log = logging.getLogger("fedisupport")
WEB_DIR = Path(__file__).parent / "web"


def create_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals["settings"] = settings
    return templates


def create_app(settings: Settings, *, check_schema: bool = True) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = db.create_engine(settings)
        try:
            if check_schema:
                await db.check_schema(engine, settings)
            app.state.engine = engine
            app.state.sessions = db.session_factory(engine)
            yield
        finally:
            await engine.dispose()

    app = Starlette(
        routes=[*pages.routes(), Mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")],
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
        exception_handlers=pages.exception_handlers(),
    )
    app.state.settings = settings
    app.state.templates = create_templates(settings)
    return app


def create_app_from_env() -> Starlette:
    """Factory for uvicorn's worker processes, which read settings the same way the CLI does."""
    return create_app(load_settings(require_file=False))
