"""TLS at the entry point, measured with a real handshake: the certificate is valid for the name, its
chain verifies (complete up to a trusted root), it has more than `tls_min_days` left; TLS 1.0 and 1.1
are refused. Targets come from the environment (entry_url; tls_name and tls_ca_file in `checks:`)."""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

from checks.context import Context
from checks.model import CheckError, Result, Status, failed, passed, unverified, worst
from checks.registry import check

LEGACY = {"TLS 1.0": ssl.TLSVersion.TLSv1, "TLS 1.1": ssl.TLSVersion.TLSv1_1}


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_after: datetime
    protocol: str
    verify_error: str | None  # None: chain and name verified

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400


def _cn(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(value) for value in san.get_values_for_type(x509.DNSName)) + tuple(
        str(value) for value in san.get_values_for_type(x509.IPAddress)
    )


def inspect(host: str, port: int, name: str, ca_file: str | None = None, timeout: float = 10) -> Certificate:
    """Reads the served certificate (without trusting it), then verifies chain and name in a second handshake."""
    raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    raw.check_hostname = False
    raw.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock, raw.wrap_socket(sock) as tls:
        der = tls.getpeercert(binary_form=True)
        protocol = tls.version() or "?"
    if der is None:
        raise ssl.SSLError("the server sent no certificate")
    cert = x509.load_der_x509_certificate(der)
    strict = ssl.create_default_context(cafile=ca_file)
    error = None
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            strict.wrap_socket(sock, server_hostname=name),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
    return Certificate(
        subject=_cn(cert.subject),
        issuer=_cn(cert.issuer),
        names=_names(cert),
        not_after=cert.not_valid_after_utc,
        protocol=protocol,
        verify_error=error,
    )


def target(ctx: Context) -> tuple[str, int, str]:
    """(host, port, name) of the entry point; a CheckError where it is plain http (a failure in staging and
    production, elsewhere not applicable)."""
    url = urlsplit(ctx.entry)
    if url.scheme != "https":
        if ctx.strict:
            raise CheckError(f"the entry point {ctx.entry} is not https")
        raise CheckError(
            f"{ctx.env.name}'s entry point {ctx.entry} is plain http (no TLS here)", status=Status.NOT_APPLICABLE
        )
    return url.hostname or "", url.port or 443, ctx.config["tls_name"] or url.hostname or ""


def judge(cert: Certificate, name: str, now: datetime, min_days: float) -> tuple[bool, str]:
    left = cert.days_left(now)
    described = (
        f"{cert.subject} (names {', '.join(cert.names) or '-'}), issued by {cert.issuer}, "
        f"valid until {cert.not_after:%Y-%m-%d}, {left:.0f} days left, {cert.protocol}"
    )
    if cert.verify_error:
        return False, f"does not verify for {name}: {cert.verify_error} — {described}"
    if left <= min_days:
        return False, f"{left:.1f} days to expiry (more than {min_days:g} needed) — {described}"
    return True, f"valid for {name}, chain complete — {described}"


@check("tls.certificate")
def certificate(ctx: Context, args: dict[str, Any]) -> Result:
    host, port, name = target(ctx)
    ca = str(ctx.path(ctx.config["tls_ca_file"])) if ctx.config["tls_ca_file"] else None
    command = f"TLS handshake with {host}:{port} as {name} (trusting {ca or 'the system CAs'})"
    try:
        cert = inspect(host, port, name, ca)
    except (OSError, ssl.SSLError) as exc:
        return failed(f"no TLS handshake with {host}:{port}: {exc}", command)
    ok, detail = judge(cert, name, datetime.now(UTC), float(ctx.config["tls_min_days"]))
    return (passed if ok else failed)(detail, command, round(cert.days_left(datetime.now(UTC)), 1))


def offers(host: str, port: int, version: ssl.TLSVersion, timeout: float = 10) -> bool | None:
    """True when the server completes a handshake at exactly `version`; False when it refuses it;
    None when this machine's OpenSSL cannot even offer that version."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # deprecated on purpose: the point is to offer them
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = version
            context.maximum_version = version
    except (ValueError, ssl.SSLError):
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, context.wrap_socket(sock):
            return True
    except ssl.SSLError as exc:
        if "NO_PROTOCOLS_AVAILABLE" in str(exc).upper().replace(" ", "_"):
            return None
        return False
    except ConnectionResetError:
        return False


def legacy_refused(ctx: Context, args: dict[str, Any]) -> Result:
    host, port, _ = target(ctx)
    command = f"TLS handshakes with {host}:{port} offering only TLS 1.0, then only TLS 1.1"
    accepted, untested = [], []
    for label, version in LEGACY.items():
        answer = offers(host, port, version)
        if answer is None:
            untested.append(label)
        elif answer:
            accepted.append(label)
    if accepted:
        return failed(f"the server accepts {', '.join(accepted)}", command)
    if untested:
        return unverified(f"could not check {', '.join(untested)}: this controller's OpenSSL cannot offer it", command)
    return passed("TLS 1.0 and TLS 1.1 refused", command)


@check("tls.working")
def working(ctx: Context, args: dict[str, Any]) -> Result:
    """The checklist's "SSL certificates working": the certificate valid and TLS 1.0 and 1.1 refused."""
    return worst([certificate(ctx, args), legacy_refused(ctx, args)])
