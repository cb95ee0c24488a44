"""Real servers on 127.0.0.1 for the egress tests: HTTP (a directory, or fixed answers), HTTPS, and a TCP echo.

Tests of the network send traffic to loopback only; these are what they reach.
"""

import http.server
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trustme


@dataclass
class Served:
    """A running loopback server: its port, and the paths it was asked for."""

    port: int
    paths: list[str] = field(default_factory=list[str])


def _handler(served: Served, body: bytes) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.paths.append(self.path)
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    return Handler


@contextmanager
def _serving(server: socketserver.TCPServer, served: Served) -> Iterator[Served]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def http_server(body: bytes = b"hello from loopback\n") -> Iterator[Served]:
    """An HTTP server on 127.0.0.1 answering every GET with `body`."""
    served = Served(port=0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served, body))
    served.port = server.server_address[1]
    with _serving(server, served):
        yield served


@contextmanager
def directory_server(directory: Path) -> Iterator[Served]:
    """An HTTP server on 127.0.0.1 serving the files of a directory (a package index)."""
    served = Served(port=0)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            served.paths.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
    served.port = server.server_address[1]
    with _serving(server, served):
        yield served


@contextmanager
def https_server(ca: trustme.CA, name: str, body: bytes = b"hello over tls\n") -> Iterator[Served]:
    """An HTTPS server on 127.0.0.1 with a certificate for `name` from the test CA `ca`."""
    served = Served(port=0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served, body))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    served.port = server.server_address[1]
    with _serving(server, served):
        yield served


@contextmanager
def echo_server() -> Iterator[Served]:
    """A TCP server on 127.0.0.1 that sends back what it receives."""
    served = Served(port=0)

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            connection: socket.socket = self.request
            while data := connection.recv(65536):
                connection.sendall(data)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    served.port = server.server_address[1]
    with _serving(server, served):
        yield served
