"""A stand-in for an environment's proxy command (on AWS `aws ssm start-session … AWS-StartSSHSession`): carries
its stdin and stdout to a TCP port, as ProxyCommand expects.

    python ssh_relay.py ADDRESS PORT [RECORD WORD...]    RECORD: a file to write the WORDs to (what %h %p %r became)

It cannot reach ADDRESS:PORT: a line on stderr and exit 1, as a failing session would."""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path


def main(argv: list[str]) -> int:
    address, port = argv[0], int(argv[1])
    if len(argv) > 2:
        Path(argv[2]).write_text(" ".join(argv[3:]))
    try:
        sock = socket.create_connection((address, port), timeout=5)
    except OSError as exc:
        print(f"relay: cannot reach {address}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    sock.settimeout(None)

    def upstream() -> None:
        while data := os.read(0, 65536):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := sock.recv(65536):
        os.write(1, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
