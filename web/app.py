"""The web app assembled: the JSON API (docs/api.md) and its pages, behind the guard, with the one error handler."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qa import __version__
from qa.errors import SpeechQAError
from qa.search.jobs import ChangeJobs
from qa.search.service import SearchService
from qa.settings import Settings
from web import security
from web.api import api, as_sent_in_url
from web.deps import AppServiceHolder
from web.errors import install_error_handlers
from web.guard import GuardMiddleware
from web.pages import pages
from web.render import HERE

log = logging.getLogger("speechqa.web")


class SpeechQAApp(FastAPI):
    """FastAPI, its OpenAPI description stating query parameters as a URL sends them (web.api.as_sent_in_url)."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = as_sent_in_url(super().openapi())
        return self.openapi_schema


def create_app(settings: Settings, service: SearchService | None = None) -> FastAPI:
    """The web app over the collection of `settings` (or over `service`, already loaded)."""
    holder = AppServiceHolder(settings, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Load the model and indexes before the first request, not during one.
        try:
            holder.get().warm_up()
        except SpeechQAError as exc:
            log.warning("not ready: %s", exc)
        yield
        # A stopping server waits for no upload: the running job ends at its next document, queued ones are dropped.
        app.state.jobs.stop()

    app = SpeechQAApp(title="speechqa", version=__version__, lifespan=lifespan,
                      description="Semantic search over speeches with exact citations. Contract: docs/api.md.")
    app.state.settings = settings
    app.state.holder = holder
    app.state.jobs = ChangeJobs()
    app.state.allowed_hosts = security.allowed_host_names(settings.allowed_hosts, settings.host)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    on_unexpected = install_error_handlers(app)
    app.add_middleware(GuardMiddleware, on_unexpected=on_unexpected)
    app.include_router(api)
    app.include_router(pages)
    return app
