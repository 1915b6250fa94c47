"""A stand-in for Sentry's ingestion endpoint on loopback: accepts envelopes (POST /api/<project>/envelope/,
gzip or brotli as the SDK sends them), keeps each one's raw text and its parsed items for the tests to read."""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Envelope:
    path: str
    raw: str  # the decompressed body, as sent
    headers: dict[str, Any]
    items: list[tuple[dict[str, Any], Any]] = field(default_factory=list)  # (item header, payload)

    def events(self) -> list[dict[str, Any]]:
        return [payload for header, payload in self.items if header.get("type") == "event"]


def parse_envelope(path: str, body: bytes) -> Envelope:
    """Sentry's envelope format: a header line, then per item a header line and a payload (of `length` bytes,
    else up to the next newline)."""
    first, _, rest = body.partition(b"\n")
    envelope = Envelope(path, body.decode(errors="replace"), json.loads(first))
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :].removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            envelope.items.append((header, json.loads(payload)))
        except ValueError:
            envelope.items.append((header, payload))
    return envelope


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # noqa: PLC0415 (the SDK uses brotli only when the module is there)

        return brotli.decompress(body)
    return body


class SentryReceiver:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = _decoded(self.rfile.read(length), self.headers.get("Content-Encoding", ""))
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "api" or parts[2] != "envelope":
                    receiver.refused.append(self.path)
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.envelopes.append(parse_envelope(self.path, body))
                answer = json.dumps({"id": receiver.envelopes[-1].headers.get("event_id")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def dsn(self, key: str = "0123456789abcdef0123456789abcdef", project: int = 1) -> str:
        return f"http://{key}@127.0.0.1:{self.port}/{project}"

    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.envelopes for event in envelope.events()]

    def wait_for_events(self, count: int = 1, seconds: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
