"""Dumps sealed at rest: authenticated encryption with a secret key, so a dump can leave its host (the backup
bucket) and any change to it, a truncation, or another key is refused before anything is restored.

Why this way: the program runs on the controller (its venv) and on the db host under Debian 12's python3, where
roles/backups installs `python3-cryptography` (38.0, already in the lab's image). Its AES-256-GCM is an AEAD
cipher; `openssl enc` has no AEAD mode and gpg's symmetric mode is not AEAD in Debian 12's 2.2, and neither is on
every controller. GCM seals one message in memory, so a dump is sealed in 1 MiB chunks (the STREAM construction):
chunk i's nonce is its number and a last-chunk flag, every chunk authenticates the header, so chunks cannot be
reordered, dropped or cut off at the end unnoticed.

File: MAGIC, a 16-byte salt, a 16-byte key check, the backup id's length (1 byte) and the id; then the chunks,
each ciphertext plus its 16-byte tag. The file's own key is HKDF-SHA256(secret, salt): one per file, so nonces
never repeat under a key. The key check (HMAC of a constant under that key) tells a wrong key from a damaged
chunk. The manifest beside the file is authenticated with the same secret (`manifest_mac`).

The secret: at least 32 characters in a file only its owner may read (0600: a broader mode is refused); never
printed, nor kept in a repr."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import BackupUnusable

MAGIC = b"golive-backup sealed 1\n"
SALT_BYTES = 16
CHECK_BYTES = 16
TAG_BYTES = 16
CHUNK = 1024 * 1024
MIN_SECRET = 32
SEALED_SUFFIX = ".dump.sealed"


class SealBroken(BackupUnusable):
    """A sealed file that cannot be opened: another key, changed, cut off, or no sealed file at all."""


class KeyInvalid(Exception):
    """The key file cannot be used (missing, readable by others, too short); its content is never named."""


@dataclass(frozen=True)
class Key:
    secret: bytes = field(repr=False)
    source: str  # where it was read from, for messages

    def derive(self, salt: bytes, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=purpose).derive(self.secret)


def read_key(path: Path) -> Key:
    """The secret in `path`, refused unless only its owner can read it (0600 or 0400) and it is long enough."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise KeyInvalid(f"cannot read the backup key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if mode & 0o077:
            raise KeyInvalid(f"the backup key file {path} is readable by others (mode {mode:04o}): chmod 600 it")
        secret = handle.read().strip()
    if len(secret) < MIN_SECRET:
        raise KeyInvalid(f"the backup key in {path} is too short (at least {MIN_SECRET} characters)")
    return Key(secret, str(path))


def key_from_text(text: str, source: str) -> Key:
    secret = text.strip().encode()
    if len(secret) < MIN_SECRET:
        raise KeyInvalid(f"the backup key from {source} is too short (at least {MIN_SECRET} characters)")
    return Key(secret, source)


def manifest_mac(key: Key, canonical: bytes) -> str:
    """What authenticates a manifest (its canonical JSON, without the mac itself)."""
    return hmac.new(key.derive(b"", b"golive-backup manifest 1"), canonical, hashlib.sha256).hexdigest()


def _header(salt: bytes, check: bytes, backup_id: str) -> bytes:
    name = backup_id.encode()
    return MAGIC + salt + check + bytes([len(name)]) + name


def _check(file_key: bytes) -> bytes:
    return hmac.new(file_key, b"golive-backup key check", hashlib.sha256).digest()[:CHECK_BYTES]


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _create_private(path: Path):
    """A new file only its owner can read or write (refused when it exists)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def seal(plain: Path, sealed: Path, key: Key, backup_id: str) -> None:
    """Writes `plain` sealed into the new file `sealed` (0600); removed again when it fails."""
    salt = os.urandom(SALT_BYTES)
    file_key = key.derive(salt, b"golive-backup dump 1")
    header = _header(salt, _check(file_key), backup_id)
    cipher = AESGCM(file_key)
    with plain.open("rb") as source, _create_private(sealed) as sink:
        try:
            sink.write(header)
            index, chunk = 0, source.read(CHUNK)
            while True:
                following = source.read(CHUNK)
                last = not following
                sink.write(cipher.encrypt(_nonce(index, last), chunk, header))
                if last:
                    break
                index, chunk = index + 1, following
        except BaseException:
            sealed.unlink(missing_ok=True)
            raise


def _read_header(handle, path: Path) -> tuple[bytes, bytes, str, bytes]:
    start = handle.read(len(MAGIC) + SALT_BYTES + CHECK_BYTES + 1)
    if len(start) < len(MAGIC) + SALT_BYTES + CHECK_BYTES + 1 or not start.startswith(MAGIC):
        raise SealBroken(f"{path} is not a sealed golive-backup file")
    salt = start[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    check = start[len(MAGIC) + SALT_BYTES : -1]
    name = handle.read(start[-1])
    try:
        backup_id = name.decode()
    except UnicodeDecodeError:
        raise SealBroken(f"{path} is not a sealed golive-backup file (its header is damaged)") from None
    return salt, check, backup_id, start + name


def unseal(sealed: Path, plain: Path, key: Key, backup_id: str) -> tuple[str, int]:
    """Opens `sealed` into the new file `plain` (0600), every chunk authenticated; SealBroken naming the file
    otherwise, and `plain` removed. Returns the sha256 and size of what it wrote."""
    digest, size = hashlib.sha256(), 0
    created = False
    try:
        with sealed.open("rb") as source:
            salt, check, sealed_for, header = _read_header(source, sealed)
            file_key = key.derive(salt, b"golive-backup dump 1")
            if not hmac.compare_digest(check, _check(file_key)):
                raise SealBroken(
                    f"{sealed} was not sealed with the key in {key.source} (a wrong key, or its header was changed)"
                )
            if sealed_for != backup_id:
                raise SealBroken(f"{sealed} is sealed as backup {sealed_for!r}, not {backup_id!r}")
            cipher = AESGCM(file_key)
            with _create_private(plain) as sink:
                created = True
                index, chunk = 0, source.read(CHUNK + TAG_BYTES)
                while True:
                    following = source.read(CHUNK + TAG_BYTES)
                    last = not following
                    try:
                        opened = cipher.decrypt(_nonce(index, last), chunk, header)
                    except InvalidTag:
                        where = (
                            f"cut off or changed in its last chunk ({index})" if last else f"changed in chunk {index}"
                        )
                        raise SealBroken(f"{sealed} is {where}: refused, nothing restored from it") from None
                    sink.write(opened)
                    digest.update(opened)
                    size += len(opened)
                    if last:
                        break
                    index, chunk = index + 1, following
    except BaseException as exc:
        if created:
            plain.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SealBroken(f"cannot open {sealed}: {exc.strerror or exc}") from None
        raise
    return digest.hexdigest(), size
