"""The one exception handler: each error becomes its status and the JSON error, an error page, or its form's page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from qa.access import changes_open
from qa.errors import BadInputError, SpeechQAError, TooLargeError
from qa.serialize import ErrorBody
from qa.settings import Settings
from web.render import page, templates

log = logging.getLogger("speechqa.web")
UnexpectedHandler = Callable[[Request, Exception], Awaitable[Response]]


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path in ("/healthz", "/openapi.json")


def error_response(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one shape of every error: JSON for the API, an HTML page otherwise."""
    settings = request.app.state.settings
    message = public_message(message, settings)
    if _wants_json(request):
        return Response(ErrorBody.of(code, message).json(), status_code=status, headers=headers,
                        media_type="application/json")
    return templates.TemplateResponse(
        request, "error.html",
        {"status": status, "code": code, "message": message, "can_write": changes_open(settings.token, settings.host)},
        status_code=status, headers=headers,
    )


def public_message(message: str, settings: Settings) -> str:
    """A library message as HTTP clients see it: the server's own folders are named, not shown
    (the CLI prints them, for the person who owns them)."""
    for directory, name in ((settings.data_dir, "<data directory>"), (settings.cache_dir, "<cache directory>")):
        for shown in dict.fromkeys((str(directory), str(directory.expanduser()), str(directory.expanduser().resolve()))):
            if shown not in (".", "/"):
                message = message.replace(shown, name)
    return message


def too_large_message(limit: int, size: int | None = None) -> str:
    """`size` is None for a chunked upload, whose length is known only to be over the limit."""
    told = f"the upload is {_size(size)}, over the limit of {_size(limit)}" if size else f"the upload is over the limit of {_size(limit)}"
    return f"{told}; send fewer or smaller files at a time, or ingest large collections with `speechqa ingest`"


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n:,} bytes"
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return ", ".join(method for method in _METHODS
                     if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes))


def _problem(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "request body: not valid JSON"
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
    return f"{'.'.join(parts) or 'request body'}: {error.get('msg')}"


@dataclass(frozen=True)
class FormPage:
    """A page whose form the user can fix bad input in: the template and what it shows besides the message."""

    template: str
    context: dict


def shows_bad_input(request: Request, template: str, **context: object) -> None:
    """From here on, a BadInputError of this request is shown on `template`, next to the form it came from,
    rather than on the error page (the handler below renders it)."""
    request.state.form_page = FormPage(template, context)


def install_error_handlers(app: FastAPI) -> UnexpectedHandler:
    """Map every error to its response; returns the handler of unexpected ones, which the guard calls too."""

    @app.exception_handler(SpeechQAError)
    async def on_speechqa_error(request: Request, exc: SpeechQAError):
        form_page = getattr(request.state, "form_page", None)
        if isinstance(exc, BadInputError) and form_page is not None:
            return page(request, form_page.template, status=exc.status,
                        error=public_message(str(exc), request.app.state.settings), **form_page.context)
        return error_response(request, exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(_problem(err) for err in exc.errors())
        return error_response(request, 422, "invalid_request", f"fix these fields: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(request, 404, "not_found", f"no page or endpoint at {request.url.path}; see /docs for the API")
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            return error_response(request, 405, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.url.path}, only {allowed}; see /docs for the API",
                                  headers={"Allow": allowed})
        if exc.status_code == 413:  # the body limit of an upload sent without a length
            return error_response(request, 413, TooLargeError.code, too_large_message(request.app.state.settings.max_upload_bytes))
        return error_response(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "internal", "something went wrong on the server; the error was logged")

    return on_unexpected
