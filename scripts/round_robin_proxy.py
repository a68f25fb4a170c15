"""A small HTTP reverse proxy for `make cluster`: each request goes to the next app server in
turn (one that does not answer is skipped), with X-Forwarded-For/-Proto/-Host as a real load
balancer sets them, and the answering server named in X-Served-By. For trying out and testing
several app servers on one machine; in production nginx, HAProxy or the platform's load
balancer does this."""

from __future__ import annotations

import http.client
import itertools
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
BACKEND_TIMEOUT = 65  # a little longer than gunicorn's worker timeout


def make_proxy(port: int, backends: list[tuple[str, int]], host: str = "127.0.0.1"):
    """A ThreadingHTTPServer bound to host:port that spreads requests over `backends`."""
    turn = itertools.cycle(range(len(backends)))
    lock = threading.Lock()

    def next_backends() -> list[tuple[str, int]]:
        with lock:
            first = next(turn)
        return backends[first:] + backends[:first]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "round-robin-proxy"
        sys_version = ""

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in HOP_BY_HOP and not name.lower().startswith("x-forwarded-")
            }
            headers["X-Forwarded-For"] = self.client_address[0]
            # Its own id for each request, as a load balancer makes one: a client's is dropped.
            headers = {k: v for k, v in headers.items() if k.lower() != "x-request-id"}
            headers["X-Request-ID"] = uuid.uuid4().hex
            headers["X-Forwarded-Proto"] = "http"
            headers["X-Forwarded-Host"] = self.headers.get("Host", f"{host}:{port}")
            for backend in next_backends():
                connection = http.client.HTTPConnection(*backend, timeout=BACKEND_TIMEOUT)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                except ConnectionRefusedError:
                    connection.close()
                    continue
                try:
                    payload = response.read()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("X-Served-By", f"{backend[0]}:{backend[1]}")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    connection.close()
                return
            self.send_error(502, "No app server answered")

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _relay

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # the app servers log each request (without query strings); this does not

    return ThreadingHTTPServer((host, port), Handler)
