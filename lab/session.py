"""The lab's stand-in for `aws ssm start-session --document-name AWS-StartSSHSession`: an SSH ProxyCommand that
carries the connection into a host's own network namespace and on to a port on its loopback, as the SSM agent
connects to the instance's localhost:22. Nothing crosses the lab's network, so a host's firewall may keep port 22
closed to it, as an SSM-reached instance keeps it closed.

    ProxyCommand python3 lab/session.py /run/netns/golive-%n %p

Stdlib only, run as a program (ssh starts it in the caller's working directory). Needs CAP_SYS_ADMIN (the lab runs
as root). Exit 255 with one line on stderr when the namespace or the port cannot be reached, as ssh itself fails.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import socket
import sys

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"
FAILED = 255
CHUNK = 65536


def enter(namespace: str) -> None:
    fd = os.open(namespace, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


def relay(sock: socket.socket) -> None:
    """stdin -> the socket, the socket -> stdout, until either side ends."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ)
    selector.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == stdin:
                data = os.read(stdin, CHUNK)
                if not data:
                    sock.shutdown(socket.SHUT_WR)
                    selector.unregister(stdin)
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(CHUNK)
                if not data:
                    return
                os.write(stdout, data)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: session.py NETWORK_NAMESPACE_PATH PORT", file=sys.stderr)
        return FAILED
    namespace, port = argv[0], int(argv[1])
    try:
        enter(namespace)
    except OSError as exc:
        print(f"lab session: cannot enter {namespace} ({exc.strerror}): is the lab up? `fab lab.up`", file=sys.stderr)
        return FAILED
    try:
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
    except OSError as exc:
        print(f"lab session: {namespace}: nothing answers on {LOOPBACK}:{port} ({exc})", file=sys.stderr)
        return FAILED
    sock.settimeout(None)
    with sock:
        relay(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
