"""Who may ask what: the Host names served, which changes come from the server's own pages, and the
headers every response carries. Pure functions of a request's headers; web/guard.py applies them
(the token itself is checked by qa.access)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# No inline script or style anywhere: the pages load /static/app.js and /static/style.css only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# /docs runs Swagger UI, which sets styles inline and starts a worker from a blob; its files all come
# from this server (web/templates/api_docs.html), and it holds no user content.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'")
DOCS_PATHS = ("/docs",)
HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    # same-origin keeps the Referer (and a real Origin on form posts) for the server's own pages only;
    # no-referrer would make the browser send "Origin: null" on them.
    ("referrer-policy", "same-origin"),
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHANGE_PATH = re.compile(r"^/(?:api/)?documents(?:/|$)")


def security_headers(path: str) -> list[tuple[str, str]]:
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    return [*HEADERS, ("content-security-policy", csp)]


def host_name(host_header: str) -> str:
    """The name in a Host header: no port, no IPv6 brackets, lower case, no trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def allowed_host_names(configured: Iterable[str], bound_host: str) -> frozenset[str]:
    """Names served besides IP addresses and loopback names: the configured ones and the bound host."""
    return frozenset(host_name(name) for name in (*configured, bound_host) if name.strip())


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether to answer a request for this Host.

    An IP address is always answered: DNS rebinding needs a name the attacker controls, which then
    arrives in the Host header. Names are answered when they are loopback names or configured
    ("*" answers every name).
    """
    if host_header is None:
        return True  # HTTP/1.0 without a Host header: not a browser, so not a rebinding page
    name = host_name(host_header)
    if not name:
        return False
    if "*" in allowed or name in allowed or name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_change(method: str, path: str) -> bool:
    """Uploads and deletions: POST /api/documents, DELETE /api/documents/ID, and the /documents forms."""
    return method not in SAFE_METHODS and bool(_CHANGE_PATH.match(path))


def foreign_origin(origin: str | None, referer: str | None, host_header: str | None) -> str | None:
    """The other site a request comes from, or None when it names none or this server itself.

    Browsers send Origin on cross-site posts; a Referer stands in for it where Origin is missing.
    """
    given = origin if origin is not None else referer
    if given is None:
        return None
    given = given.strip()
    if given.lower() == "null":  # sandboxed frames, file: pages, some redirects
        return "null"
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return given
    own = _netloc(host_header or "", parts.scheme)
    return None if own and _netloc(parts.netloc, parts.scheme) == own else f"{parts.scheme}://{parts.netloc}"


def _netloc(netloc: str, scheme: str) -> str:
    netloc = netloc.strip().lower().rpartition("@")[2]
    default = ":443" if scheme == "https" else ":80"
    return netloc.removesuffix(default)

