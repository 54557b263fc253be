"""Request bodies over their limit are refused with 413 before they are read: at once when their
declared length is over it, as soon as they pass it when they declare none (chunked).

Two places read a body before any view could look at its size: the web server and Django's
ASGIHandler. Daphne (Twisted) reads a whole request body into a temporary file (from 100 kB, or of
unknown length) before it calls the application at all; then ASGIHandler.read_body copies it into a
SpooledTemporaryFile (on disk past FILE_UPLOAD_MAX_MEMORY_SIZE), and the upload handlers copy the
files into named temporary files. DATA_UPLOAD_MAX_MEMORY_SIZE is checked only while a form is parsed,
after all of that. So the limit is enforced twice, with one rule (`body_limit`):

- `BodyLimit`, an ASGI wrapper: a Content-Length over the limit is answered before the body is
  received; a body without one (chunked) is counted as it arrives and cut off at the limit.
- `BoundedWebRequest`, daphne's request with the same checks where Twisted gets the length and each
  piece of the body, so that under daphne nothing over the limit reaches a file either.

Upload URLs (views marked with `accepts_uploads`) may carry settings.UPLOAD_MAX_BYTES plus room for
the multipart envelope; every other URL settings.REQUEST_MAX_BYTES. /v1 answers JSON, pages plain text.
"""

import json
from io import BytesIO
from typing import Any, Callable, NamedTuple
from urllib.parse import unquote

from django.conf import settings
from django.urls import Resolver404, resolve

MULTIPART_ENVELOPE = 1024 * 1024  # the form's boundaries, part headers and small fields beside the file
LINGER_SECONDS = 5.0  # after a refusal, how long the rest of a body is read and dropped before closing


def accepts_uploads(view: Callable) -> Callable:
    """Mark a view that takes files: its requests may be as large as an upload."""
    view.accepts_uploads = True
    return view


def _is_upload(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view = getattr(match.func, "view_class", match.func)
    return getattr(view, "accepts_uploads", False)


class Limit(NamedTuple):
    size: int  # bytes
    setting: str  # what sets it, for the refusal to say


def body_limit(path: str) -> Limit:
    """The largest request body `path` accepts."""
    if _is_upload(path):
        return Limit(settings.UPLOAD_MAX_BYTES + MULTIPART_ENVELOPE, "UPLOAD_MAX_BYTES plus 1 MB for the form")
    return Limit(settings.REQUEST_MAX_BYTES, "REQUEST_MAX_BYTES")


def refusal(path: str, length: int | None, limit: Limit) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 413 answer: status, headers and body."""
    size = f"has {length} bytes" if length is not None else "goes on past that"
    detail = f"This URL accepts a request body of {limit.size} bytes at most ({limit.setting}); this one {size}."
    if path.startswith("/v1/"):
        body, kind = json.dumps({"detail": detail, "code": "too_large"}).encode(), b"application/json"
    else:
        body, kind = (detail + "\n").encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               (b"x-should-retry", b"false")]
    return 413, headers, body


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


class BodyLimit:
    """ASGI: refuse an HTTP request whose body is over its URL's limit, before the app reads it."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, limit = scope["path"], body_limit(scope["path"])
        length = _content_length(scope["headers"])
        if length is not None and length > limit.size:
            return await self._refuse(send, path, length, limit)
        if length is not None:
            return await self.app(scope, receive, send)
        seen, over, started = 0, False, False

        async def counted() -> dict:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.size:
                    over = True  # the app sees the client leave: Django stops reading and answers nothing
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)
        if over and not started:
            await self._refuse(send, path, None, limit)

    @staticmethod
    async def _refuse(send: Callable, path: str, length: int | None, limit: Limit) -> None:
        status, headers, body = refusal(path, length, limit)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def bounded_daphne_request() -> type:
    """Daphne's request with the body limit applied as Twisted receives the body: a declared length
    over the limit is answered at once (before a byte of the body is read), a body without one is
    counted; what comes after a refusal is dropped, never stored, and the connection closes."""
    from daphne.http_protocol import WebRequest
    from twisted.internet import reactor

    class BoundedWebRequest(WebRequest):
        refused = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Twisted would also parse a form body into memory for request.args, which daphne never reads
            self._parsePOSTFormSubmission = False

        def gotLength(self, length: int | None) -> None:
            raw = getattr(self.channel, "_path", b"/").split(b"?", 1)[0]
            self.limit_path = unquote(raw.decode("ascii", "replace"))
            self.limit, self.received = body_limit(self.limit_path), 0
            if length is not None and length > self.limit.size:
                self._refuse(length)
                return
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            if self.refused:
                return
            self.received += len(data)
            if self.received > self.limit.size:
                self._refuse(None)
                return
            super().handleContentChunk(data)

        def process(self) -> None:
            if not self.refused:
                return super().process()

        def _refuse(self, length: int | None) -> None:
            self.refused = True
            self.content = BytesIO()  # whatever Twisted still reads of this request is dropped
            self.requestHeaders.removeHeader(b"Expect")  # no "100 Continue" after the answer
            status, headers, body = refusal(self.limit_path, length, self.limit)
            head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
            transport = self.channel.transport
            transport.write(b"HTTP/1.1 %d Content Too Large\r\n%s\r\n%s" % (status, head, body))
            # closing at once could reset the connection under a client still sending, and lose the
            # answer: read (and drop) for a few seconds first
            reactor.callLater(LINGER_SECONDS, transport.loseConnection)

    return BoundedWebRequest


def _line_too_long(channel: Any, line: bytes) -> None:
    """Twisted's answer to a request line or a header line over 16 KB is to drop the connection, with
    no answer at all: a client sees "server disconnected" and cannot tell why. Answer 414 (the request
    line: a URL that long) or 431 (a header), then drop what follows and close."""
    from twisted.internet import reactor

    first = getattr(channel, "_HTTPChannel__first_line", True)
    status, reason, what = (414, b"URI Too Long", "request line (the URL)") if first else (
        431, b"Request Header Fields Too Large", "header line")
    body = json.dumps({"detail": f"The {what} is longer than {channel.MAX_LENGTH} bytes.",
                       "code": "uri_too_long" if first else "header_too_large"}).encode()
    channel.dataReceived = lambda data: None
    channel.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                            b"Connection: close\r\n\r\n%s" % (status, reason, len(body), body))
    reactor.callLater(LINGER_SECONDS, channel.transport.loseConnection)


def install_daphne_guard() -> None:
    """Make daphne build its requests as BoundedWebRequest (HTTPFactory.buildProtocol looks the class
    up by name in daphne.http_protocol on every connection), and answer lines too long to read."""
    import daphne.http_protocol
    from twisted.web.http import HTTPChannel

    if not getattr(daphne.http_protocol.WebRequest, "body_limited", False):
        bounded = bounded_daphne_request()
        bounded.body_limited = True
        daphne.http_protocol.WebRequest = bounded
    HTTPChannel.lineLengthExceeded = _line_too_long
