"""A port on the controller's loopback carried over a host's SSH connection to a port on that host's own loopback
(paramiko's direct-tcpip channels, as `ssh -L`): what reaches an instance where only SSH reaches its host (an
instance id that does not resolve, a security group that admits the port only from the balancer)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from select import select

from paramiko import Channel, ChannelException, SSHException, Transport
from paramiko.common import OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

from foundation.transport import ForwardRefused, HostUnreachable

LOOPBACK = "127.0.0.1"
CHUNK = 65536
OPEN_TIMEOUT = 10  # seconds for the host's sshd to open a channel
POLL = 0.25  # how soon a pump notices the forward was closed


class Forward:
    """127.0.0.1:`port` here → 127.0.0.1:`remote_port` on `host`, while open; each connection its own channel."""

    def __init__(self, ssh: Transport, host: str, remote_port: int):
        self.host, self.remote_port = host, remote_port
        self._ssh = ssh
        self._closed = threading.Event()
        self._probe()
        self._server = _Server((LOOPBACK, 0), _Pump)
        self._server.forward = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL,), name=f"forward {host}:{remote_port}", daemon=True
        )
        self._thread.start()

    def channel(self, source: tuple[str, int]) -> Channel:
        return self._ssh.open_channel("direct-tcpip", (LOOPBACK, self.remote_port), source, timeout=OPEN_TIMEOUT)

    def _probe(self) -> None:
        """Refusal said now, not as a dropped connection later. Nothing listening on the port is no refusal: an
        instance still starting is asked again by whoever waits for it."""
        where = f"{self.host}: port {self.remote_port} on its loopback, through SSH"
        try:
            self.channel((LOOPBACK, 0)).close()
        except ChannelException as exc:
            if exc.code == OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED:
                raise ForwardRefused(
                    f"{where}: the host's sshd refused to forward it ({exc.text}); allow it "
                    "(sshd_config: AllowTcpForwarding local or yes, PermitOpen naming the port)"
                ) from None
        except (SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(f"{where}: the SSH connection failed ({exc or type(exc).__name__})") from None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stops listening (a connection afterwards is refused) and ends every connection it carries."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    forward: Forward


class _Pump(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        forward = self.server.forward
        try:
            channel = forward.channel(self.client_address)
        except (SSHException, EOFError, OSError):
            return  # the client sees its connection closed, as if the instance had not answered
        # either end going away ends the connection, as a direct one would end
        with channel, contextlib.suppress(SSHException, EOFError, OSError):
            _pump(self.request, channel, forward)


def _pump(sock: socket.socket, channel: Channel, forward: Forward) -> None:
    while not forward.closed:
        ready, _, _ = select([sock, channel], [], [], POLL)
        for source, sink in ((sock, channel), (channel, sock)):
            if source in ready:
                data = source.recv(CHUNK)
                if not data:
                    return
                sink.sendall(data)
