"""The ASGI guard before every route: host names, URL and upload sizes, changes from other sites, security headers."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import MutableHeaders
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from qa.access import bearer_matches
from qa.errors import TooLargeError
from qa.settings import Settings
from web import security
from web.deps import writer_refusal
from web.errors import UnexpectedHandler, error_response, too_large_message

UPLOAD_PATHS = ("/api/documents", "/documents")
# A GET query of 2,000 characters is at most 18 KB percent-encoded; longer text goes in a POST body.
MAX_URL_BYTES = 64 * 1024
# The server reads request heads up to this size (uvicorn refuses larger ones itself, as text/plain),
# so that a too-long URL below it is answered here, in the API's error shape.
MAX_REQUEST_HEAD_BYTES = 4 * 1024 * 1024
UPLOAD_FRAMING_BYTES = 256 * 1024


class GuardMiddleware:
    """Checks every request before a route sees it, adds the security headers to every response, and
    answers unexpected errors itself.

    In order: the Host must be one this server answers (DNS rebinding); the URL must fit; a change must
    come from the server's own pages or carry the token (cross-site forms); an upload whose length is
    over the limit is refused, after the token check, before its body is read, so it never reaches the disk.

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs every request through an
    extra task and stream, which cost about a millisecond per search.
    """

    def __init__(self, app, on_unexpected: UnexpectedHandler) -> None:
        self.app = app
        self.on_unexpected = on_unexpected

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        added = security.security_headers(scope["path"])

        async def secured_send(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, secured_send)
            return
        app = self.app
        if scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS:
            # An upload sent without a length (chunked) is read only up to the limit, so it cannot fill the disk
            # either; the slack covers the multipart framing around the files, which `uploaded` counts alone.
            app = RequestBodyLimitMiddleware(app, request.app.state.settings.max_upload_bytes + UPLOAD_FRAMING_BYTES)
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await secured_send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an error page; the server closes the connection
                raise
            # Answered here, the server keeps the connection instead of logging a re-raised error.
            await (await self.on_unexpected(request, exc))(scope, receive, secured_send)

    def _refusal(self, request: Request) -> Response | None:
        settings: Settings = request.app.state.settings
        headers = request.headers
        host = headers.get("host")
        if not security.host_allowed(host, request.app.state.allowed_hosts):
            return error_response(request, 421, "unknown_host",
                                  f"this server does not answer to the host name {security.host_name(host or '')!r}; "
                                  "open it by its address, or add the name to SPEECHQA_ALLOWED_HOSTS")
        url_bytes = len(request.scope.get("raw_path") or b"") + len(request.scope.get("query_string") or b"")
        if url_bytes > MAX_URL_BYTES:
            return error_response(request, 414, "uri_too_long",
                                  f"the URL is {url_bytes:,} bytes long, over the limit of {MAX_URL_BYTES:,}; "
                                  "send long text in a POST body (POST /api/search or /api/similar)")
        if not security.is_change(request.method, request.url.path):
            return None
        authorization = headers.get("authorization")
        foreign = security.foreign_origin(headers.get("origin"), headers.get("referer"), host)
        if foreign is not None and not bearer_matches(authorization, settings.token):
            return error_response(request, 403, "cross_origin",
                                  f"changes are accepted only from this server's own pages, not from {foreign}; "
                                  "a script elsewhere must send 'Authorization: Bearer <token>' (SPEECHQA_TOKEN)")
        length = headers.get("content-length", "")
        if request.method == "POST" and request.url.path in UPLOAD_PATHS and length.isdigit():
            limit = settings.max_upload_bytes
            if int(length) > limit:
                # The API's token comes in a header and is checked before the size; the page's comes in
                # the form, unread here, so there only a server that takes no changes at all refuses first.
                refusal = writer_refusal(settings, authorization)
                if refusal is not None and (request.url.path.startswith("/api/") or settings.token is None):
                    return error_response(request, refusal.status, refusal.code, str(refusal))
                return error_response(request, 413, TooLargeError.code, too_large_message(limit, int(length)))
        return None
