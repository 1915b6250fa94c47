"""Real certificates (made here with `cryptography`) served by a real TLS server on a loopback port."""

from __future__ import annotations

import http.server
import ipaddress
import ssl
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.processes import free_port


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def issue(
    common: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    names: tuple[str, ...] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer.cert.subject if issuer else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    if names:
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


def pem(*certs: Issued) -> bytes:
    return b"".join(c.cert.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass
class Pki:
    root: Issued
    intermediate: Issued
    ca_file: Path

    def leaf(self, names: tuple[str, ...] = ("localhost", "127.0.0.1"), **kwargs) -> Issued:
        return issue(names[0], issuer=self.intermediate, names=names, **kwargs)


def pki(folder: Path) -> Pki:
    root = issue("golive test root", ca=True)
    intermediate = issue("golive test intermediate", issuer=root, ca=True)
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(pem(root))
    return Pki(root, intermediate, ca_file)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a connection takes more than one request

    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class TlsServer:
    """HTTPS on 127.0.0.1:<free port> with the given chain; `oldest` the lowest TLS version it accepts."""

    def __init__(self, folder: Path, chain: list[Issued], *, oldest: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2):
        key_file, cert_file = folder / f"key-{id(self)}.pem", folder / f"chain-{id(self)}.pem"
        key_file.write_bytes(
            chain[0].key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_file.write_bytes(pem(*chain))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if oldest < ssl.TLSVersion.TLSv1_2:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # an old protocol, on purpose: the failing case
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = oldest
        context.load_cert_chain(cert_file, key_file)
        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class PlainServer:
    """Plain HTTP on 127.0.0.1:<free port>: a 301 to `redirect_to` (keeping the path), or a 200 when None."""

    def __init__(self, redirect_to: str | None):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if redirect_to is None:
                    body = b"{}"
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(301)
                self.send_header("location", f"{redirect_to}{self.path}")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
