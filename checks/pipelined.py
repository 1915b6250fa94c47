"""GET requests pipelined on one HTTP/1.1 connection: all written at once, the answers read in order (RFC 9112
9.3.2). The server, not this process, sets the pace: a burst arrives as fast as the target can take it, however
slow the controller sending it is."""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import h11


def statuses(url: str, path: str, count: int, *, verify: bool | str, timeout: float = 10) -> list[int]:
    """The status of each answer, in order: fewer than `count` when the server closed the connection or went
    quiet for `timeout` seconds first. OSError (ssl.SSLError included) when it cannot be reached at all."""
    parts = urlsplit(url)
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(method="GET", target=path, headers=[("Host", parts.netloc), ("User-Agent", "golive-check")])
    wire = connection.send(request) + connection.send(h11.EndOfMessage())
    with _connect(parts.scheme, parts.hostname or "", parts.port, verify, timeout) as sock:
        sock.sendall(wire * count)
        return _read(sock, connection, request, count)


def _connect(scheme: str, host: str, port: int | None, verify: bool | str, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port or (443 if scheme == "https" else 80)), timeout=timeout)
    if scheme != "https":
        return sock
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(sock, server_hostname=host)


def _read(sock: socket.socket, connection: h11.Connection, request: h11.Request, count: int) -> list[int]:
    found: list[int] = []
    try:
        while len(found) < count:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                found.append(event.status_code)
            elif isinstance(event, h11.EndOfMessage):
                if connection.their_state is h11.MUST_CLOSE or len(found) == count:
                    break
                # The next request was written with the first: h11 is told so, to read its answer.
                connection.start_next_cycle()
                connection.send(request)
                connection.send(h11.EndOfMessage())
            elif isinstance(event, h11.ConnectionClosed):
                break
    except (TimeoutError, h11.RemoteProtocolError):
        pass  # went quiet or closed mid-answer: what was answered stands
    return found
