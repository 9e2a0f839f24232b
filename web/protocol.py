"""The HTTP protocol the server runs: uvicorn's h11 one, whose own answer to a request it cannot parse is
the API's error shape instead of plain text (a URL with raw, unencoded UTF-8 in it, as `curl '…?q=工'` sends)."""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.serialize import ErrorBody

MESSAGE = ("the request line cannot be read: a URL must be percent-encoded, so send non-ASCII text encoded "
           "(curl -G --data-urlencode 'q=…' URL, or a POST body)")


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        body = ErrorBody.of("bad_request", MESSAGE).json()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                   (b"content-length", str(len(body)).encode())]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
