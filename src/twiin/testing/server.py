"""A small threaded HTTPS server on 127.0.0.1 that runs a twiin server block.

``serve(handler, ssl_context)`` hosts any ``Callable[[IncomingRequest], Answer]`` (a token
endpoint, a Task endpoint, the fake Mitz, a FHIR store) over real TLS, handing the handler the
client's certificate, and stops when the ``with`` block ends: open connections are closed and
their threads joined, so nothing keeps running. It is what the sandbox and the
end-to-end tests run on; production deployments host the same blocks in their own framework.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from cryptography import x509

from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["Handler", "RunningServer", "serve"]

Handler = Callable[[IncomingRequest], Answer]
MAX_BODY = 32 * 1024 * 1024

log = get_logger("twiin.testing.server")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.command, self.path.split("?")[0])

    def _peer(self) -> x509.Certificate | None:
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            der = conn.getpeercert(binary_form=True)
            if der:
                return x509.load_der_x509_certificate(der)
        return None

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._write(Answer.outcome(413, "too-costly", "request body too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = IncomingRequest(
            method=self.command,
            url=f"{self.server.base_url}{self.path}",
            headers=dict(self.headers.items()),
            body=body,
            peer_certificate=self._peer(),
        )
        try:
            answer = self.server.handler(request)
        except Exception:
            log.exception("handler failed for %s", self.command)
            answer = Answer.outcome(500, "exception", "internal error")
        self._write(answer)

    def _write(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many concurrent clients (benchmarks) must not overflow the listen backlog

    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None, port: int) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _RequestHandler)
        scheme = "https" if ssl_context else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = 5.0) -> None:
        """End every open connection (idle keep-alives included) and wait for their threads."""
        with self._open_lock:
            open_now = dict(self._open)
        for sock in open_now.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in open_now:
            thread.join(timeout)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            _RequestHandler(request, client_address, self)
            return
        request.settimeout(10)
        tls = self.ssl_context.wrap_socket(request, server_side=True)
        with self._open_lock:  # the TLS socket now owns the connection
            self._open[threading.current_thread()] = tls
        try:
            _RequestHandler(tls, client_address, self)
        finally:
            tls.close()  # ``shutdown_request`` only closes the plain socket it handed over

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from a client (TLS refusal or disconnect)")


@attrs.frozen
class RunningServer:
    """A server started by :func:`serve`."""

    base_url: str
    port: int
    _server: _Server = attrs.field(repr=False, alias="server")

    def url(self, path: str = "") -> str:
        """``base_url`` joined with ``path``."""
        return self.base_url + ("/" + path.lstrip("/") if path else "")


@contextlib.contextmanager
def serve(
    handler: Handler, ssl_context: ssl.SSLContext | None = None, *, port: int = 0
) -> Iterator[RunningServer]:
    """Serve ``handler`` on 127.0.0.1 (HTTPS when ``ssl_context`` is given) until the block ends."""
    server = _Server(handler, ssl_context, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningServer(server.base_url, server.server_address[1], server)
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)


def is_port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
