"""Who may change a collection: the loopback and token checks that the web app and the MCP server share."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

from qa.errors import ForbiddenError, SpeechQAError, UnauthorizedError

BEARER = "'Authorization: Bearer <token>'"  # how an HTTP client presents the token


def is_loopback(host: str) -> bool:
    """Whether a listening address reaches this machine only. An empty host is not: servers bind it to every address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_origin(origin: str) -> bool:
    """Whether an Origin header names, as a whole, a page served from this machine: http(s), a loopback host
    and at most a port. `http://127.0.0.1:8000.evil.example` is not (a prefix match would let it through)."""
    try:
        parts = urlsplit(origin)
        port = parts.port  # a ValueError unless the port is a number in range
    except ValueError:
        return False
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    whole = f"{parts.scheme}://{shown}" + ("" if port is None else f":{port}")
    return parts.scheme in ("http", "https") and is_loopback(host) and origin.lower() == whole


def token_matches(given: str | None, token: str | None) -> bool:
    """`given` is the configured token (compared in constant time, so its characters cannot be timed out)."""
    if not given or token is None:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def bearer_matches(authorization: str | None, token: str | None) -> bool:
    """An Authorization header that presents the configured token."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), token)


def changes_open(token: str | None, host: str) -> bool:
    """Changes are open on loopback; anywhere else only with a token."""
    return token is not None or is_loopback(host)


def change_refusal(token: str | None, presented: str | None, *, host: str, send: str = BEARER,
                   matches: Callable[[str | None, str | None], bool] = bearer_matches) -> SpeechQAError | None:
    """Why a request may not add or remove documents, or None when it may.

    `token` is the configured one, `presented` what the request carries (read by `matches`), `host` the
    address the server listens on (without a token, only loopback takes changes) and `send` how the
    client presents the token, for the message.
    """
    if token is None:
        if not is_loopback(host):
            return ForbiddenError("uploads and deletions are disabled on a public address without a token: "
                                  "restart the server with SPEECHQA_TOKEN set")
        return None
    if not presented:
        return UnauthorizedError(f"this server needs a token for changes: send {send}")
    if not matches(presented, token):
        return ForbiddenError(f"the token is wrong: send the value of SPEECHQA_TOKEN as {send}")
    return None
