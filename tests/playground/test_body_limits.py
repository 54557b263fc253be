"""Request bodies over their URL's limit are refused with 413 before they are read: by the ASGI
wrapper (in-process, any server) and by daphne itself (the live stack, raw sockets), where Twisted
would otherwise store the whole body in a temporary file before the application sees it."""

import asyncio
import json
import os
import select
import socket

import pytest

from playground.asgi import application
from playground.middleware import MULTIPART_ENVELOPE

# --- in-process: the ASGI wrapper -----------------------------------------------------------------


async def call(path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[list[dict], int]:
    """The app's answer to a request whose body comes in `chunks`, and how many body bytes it read."""
    queue = [{"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
             for index, chunk in enumerate(chunks)]
    read, sent = 0, []

    async def receive() -> dict:
        nonlocal read
        if not queue:
            await asyncio.sleep(3600)  # a client that sends nothing more
        message = queue.pop(0)
        read += len(message["body"])
        return message

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await asyncio.wait_for(application(scope, receive, send), 30)
    return sent, read


def status_and_body(sent: list[dict]) -> tuple[int, bytes]:
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def limits(settings):
    settings.REQUEST_MAX_BYTES, settings.UPLOAD_MAX_BYTES = 64 * 1024, 256 * 1024
    return settings


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(limits):
    sent, read = asyncio.run(call("/v1/blocks/", [(b"content-length", b"65537")], [b"x" * 65537]))
    status, body = status_and_body(sent)
    assert (status, read) == (413, 0)
    assert json.loads(body) == {"code": "too_large", "detail": (
        "This URL accepts a request body of 65536 bytes at most (REQUEST_MAX_BYTES); this one has 65537 bytes.")}
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    sent, read = asyncio.run(call("/agents/1/messages", [(b"content-length", str(10**12).encode())], []))
    status, body = status_and_body(sent)
    assert (status, read) == (413, 0) and body.startswith(b"This URL accepts a request body of 65536 bytes")
    assert (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]


def test_upload_urls_take_an_upload_and_its_form(limits):
    upload = 256 * 1024 + MULTIPART_ENVELOPE
    for path in ("/sources/1/upload", "/v1/folders/source-1/upload", "/v1/folders/source-1/upload/", "/v1/agents/import"):
        sent, read = asyncio.run(call(path, [(b"content-length", str(upload + 1).encode())], []))
        assert (sent[0]["status"], read) == (413, 0), path
        assert b"UPLOAD_MAX_BYTES plus 1 MB for the form" in status_and_body(sent)[1]
    # under it, the request goes on (to the login page: nobody is logged in)
    sent, read = asyncio.run(call("/sources/1/upload", [(b"content-length", b"100000")], [b"x" * 100_000]))
    assert sent[0]["status"] != 413 and read == 100_000


def test_a_body_without_a_length_is_cut_off_at_the_limit(limits):
    sent, read = asyncio.run(call("/v1/blocks/", [(b"transfer-encoding", b"chunked")], [b"x" * 16384] * 100))
    status, body = status_and_body(sent)
    assert status == 413 and b"this one goes on past that" in body
    assert read <= 64 * 1024 + 16384  # read up to the limit and one piece more, not the 1.6 MB sent
    sent, read = asyncio.run(call("/v1/blocks/", [(b"transfer-encoding", b"chunked")], [b"{}"]))
    assert sent[0]["status"] == 401 and read == 2  # a small one goes on (to the token check)


# --- the live daphne ------------------------------------------------------------------------------


def written(pid: int) -> int:
    """Bytes the process has written so far (files, sockets, pipes), from /proc/<pid>/io."""
    with open(f"/proc/{pid}/io") as io:
        return int(next(line for line in io if line.startswith("wchar:")).split()[1])


def temporary_files(pid: int) -> list[str]:
    """The process's open temporary files: Twisted's are unlinked at once, Django's end in ".upload".
    (Not "anything under /tmp": the checkout itself, and its logs, may be there.)"""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)") or target.endswith(".upload"):
            found.append(target)
    return found


def connect(live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=10)


def answer(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
            next((line.split(b":")[1] for line in data.split(b"\r\n") if line.lower().startswith(b"content-length:")), b"0")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def send_until_answered(sock: socket.socket, pid: int, pieces, limit: int) -> tuple[int, list[str]]:
    """Send `pieces` until the server answers or `limit` bytes are out: (bytes sent, temporary files the
    server held meanwhile)."""
    sent, temporary = 0, []
    for piece in pieces:
        if sent >= limit or select.select([sock], [], [], 0)[0]:
            break  # the answer is there
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
        temporary += temporary_files(pid)
    return sent, temporary


@pytest.mark.parametrize("path, token", [("/v1/blocks/", False), ("/v1/blocks/", True), ("/sources/1/upload", False)])
def test_daphne_refuses_a_declared_length_over_the_limit_and_stores_none_of_it(live, path, token):
    from rest_framework.authtoken.models import Token

    from tests.factories import make_user

    pid = live.processes["web"].pid
    auth = f"Authorization: Bearer {Token.objects.create(user=make_user()).key}\r\n" if token else ""
    length = 60 * 1024 * 1024  # over both the request limit (10 MB) and an upload's (50 MB and the form)
    before = written(pid)
    with connect(live) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())
        # the body starts to flow (Twisted would store it from its first byte); the answer comes anyway
        sent, temporary = send_until_answered(sock, pid, [b"x" * 65536] * 64, 4 * 1024 * 1024)
        response = answer(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), response[:300]
    assert f"this one has {length} bytes".encode() in body
    if path.startswith("/v1/"):
        assert json.loads(body)["code"] == "too_large"
    # no temporary file, and far less written than sent (wchar also counts the process's own sockets
    # and logs, so it is a coarse second check)
    assert temporary == [] and written(pid) - before < 1024 * 1024, sent


def test_daphne_answers_before_the_body_when_the_client_expects_100_continue(live):
    with connect(live) as sock:
        sock.sendall(b"POST /v1/agents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 20000000\r\nExpect: 100-continue\r\n\r\n")
        response = answer(sock)
    assert response.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in response


def test_daphne_cuts_off_a_chunked_body_at_the_limit(live):
    pid = live.processes["web"].pid
    before = written(pid)
    piece = b"x" * 65536
    with connect(live) as sock:
        sock.sendall(b"POST /v1/agents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 400
        sent, _ = send_until_answered(sock, pid, chunks, 24 * 1024 * 1024)  # more than the 10 MB, if nobody stops it
        response = answer(sock)
    assert response.startswith(b"HTTP/1.1 413 "), response[:300]
    assert json.loads(response.partition(b"\r\n\r\n")[2])["detail"].endswith("this one goes on past that.")
    assert 10 * 1024 * 1024 < sent < 24 * 1024 * 1024  # answered past the limit (socket buffers hold a few MB more)
    # Twisted kept what came under the limit (a body of unknown length goes to a temporary file): that
    # much and no more was written, no copy was made for Django, and the file is gone with the request
    assert written(pid) - before < 11 * 1024 * 1024
    assert temporary_files(pid) == []


def test_daphne_still_takes_bodies_under_the_limit(live):
    with connect(live) as sock:
        body = json.dumps({"label": "x", "value": "y" * 200_000}).encode()  # over Twisted's 100 kB in memory
        sock.sendall(b"POST /v1/blocks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert answer(sock).startswith(b"HTTP/1.1 401 ")  # read whole, and on to the token check


@pytest.mark.parametrize("request_head, status, code", [
    (b"GET /v1/tools/?search=" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "uri_too_long"),
    (b"GET /v1/tools/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 20_000 + b"\r\n\r\n", 431, "header_too_large"),
])
def test_a_line_too_long_for_twisted_gets_an_answer_not_a_dropped_connection(live, request_head, status, code):
    with connect(live) as sock:
        sock.sendall(request_head)
        head, _, body = answer(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status) and json.loads(body)["code"] == code
    with connect(live) as sock:  # and the server goes on
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 ")
