"""The audit log of releases: an append-only, hash-chained JSON Lines file (one per environment).

Each line is one entry: the caller's record plus "seq" (1, 2, ...), "at" (UTC, ISO 8601), "prev" (the previous
entry's hash, 64 zeros for the first) and "hash", the sha256 of the entry's canonical JSON without "hash".
Editing, removing, reordering or inserting a line breaks the chain at a line that `verify()` names.

Appending takes an exclusive flock, reads the last entry, writes one line with O_APPEND and fsyncs, so several
controllers appending at once all land, in order; earlier lines are never rewritten. Records whose keys look
like secrets are refused, so secrets never reach the audit trail.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
RESERVED_KEYS = ("seq", "at", "prev", "hash")
_SECRET_KEY = re.compile(r"password|secret|token|passkey|apikey|privatekey|authorization")
_TAIL_CHUNK = 64 * 1024


class AuditCorrupt(Exception):
    """The audit file cannot be read as a chain of entries."""


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    count: int  # entries verified intact (all of them when ok; those before the break otherwise)
    broken_at: int | None = None  # 1-based line number where the chain first breaks
    problem: str | None = None


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Adds seq, at, prev and hash to a copy of `record`, appends it as one line and returns the stored entry."""
        entry = _checked(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            last = _last_entry(fd, size, self.path)
            entry["seq"] = last["seq"] + 1 if last else 1
            entry["at"] = datetime.now(UTC).isoformat(timespec="microseconds")
            entry["prev"] = last["hash"] if last else GENESIS
            entry["hash"] = entry_hash(entry)
            line = (_canonical(entry) + "\n").encode()
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, size)  # never leave half a line behind
                raise
        finally:
            os.close(fd)  # also releases the flock
        if size == 0:
            _fsync_dir(self.path.parent)
        return json.loads(line)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, in order; AuditCorrupt names the first line that is not a JSON object."""
        result = []
        for number, raw in _lines(self._read()):
            try:
                result.append(_parse(raw))
            except ValueError as exc:
                raise AuditCorrupt(f"{self.path}: line {number}: {exc}") from None
        return result

    def last(self) -> dict[str, Any] | None:
        """The last entry, or None when the log is empty or missing."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return _last_entry(fd, os.fstat(fd).st_size, self.path)
        finally:
            os.close(fd)

    def verify(self) -> AuditVerification:
        """Walks the chain; an empty or missing log verifies ok with count 0."""
        prev, count = GENESIS, 0
        for number, raw in _lines(self._read()):
            try:
                entry = _parse(raw)
            except ValueError as exc:
                return AuditVerification(False, count, number, f"line {number}: {exc}")
            missing = [key for key in RESERVED_KEYS if key not in entry]
            if missing:
                return AuditVerification(False, count, number, f"line {number}: not an audit entry (no {missing[0]!r})")
            if entry["hash"] != entry_hash(entry):
                return AuditVerification(
                    False, count, number, f"line {number}: hash does not match its content (edited?)"
                )
            if entry["prev"] != prev:
                problem = (
                    f"line {number}: prev does not match line {number - 1}'s hash (a line removed or reordered?)"
                    if number > 1
                    else "line 1: prev is not the start of a chain (lines removed from the start?)"
                )
                return AuditVerification(False, count, number, problem)
            if entry["seq"] != number:
                return AuditVerification(
                    False, count, number, f"line {number}: seq {entry['seq']} where {number} was expected"
                )
            prev, count = entry["hash"], count + 1
        return AuditVerification(True, count)

    def _read(self) -> bytes:
        try:
            with self.path.open("rb") as file:
                fcntl.flock(file, fcntl.LOCK_SH)  # no half-written line from a concurrent append
                return file.read()
        except FileNotFoundError:
            return b""


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the entry without its "hash"."""
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"}).encode()).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _checked(record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise TypeError(f"an audit record is a mapping, not {type(record).__name__}")
    for key in RESERVED_KEYS:
        if key in record:
            raise ValueError(f"audit record refused: key {key!r} is set by the audit log itself")
    for path in _secret_keys(record, ""):
        raise ValueError(
            f"audit record refused: key {path!r} looks like a secret; record a reference or a fingerprint instead"
        )
    return json.loads(_canonical(record))  # a deep copy exactly as it will be stored (and fails early if not JSON)


def _secret_keys(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if _SECRET_KEY.search(re.sub(r"[^a-z0-9]", "", str(key).lower())):
                yield path
            yield from _secret_keys(item, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secret_keys(item, f"{where}[{index}]")


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    # Split on b"\n" only: str.splitlines() would also split inside values holding U+2028 and the like.
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return enumerate(parts, start=1)


def _last_entry(fd: int, size: int, path: Path) -> dict[str, Any] | None:
    """The last line's entry, read backwards from the end."""
    if size == 0:
        return None
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditCorrupt(f"{path}: the last line is incomplete (a torn write?); repair the log before appending")
    end, start, tail = size - 1, size - 1, b""
    while start > 0 and b"\n" not in tail:
        start = max(0, start - _TAIL_CHUNK)
        tail = os.pread(fd, end - start, start)
    line = tail.rsplit(b"\n", 1)[-1]
    try:
        entry = _parse(line)
    except ValueError as exc:
        raise AuditCorrupt(f"{path}: the last line: {exc}") from None
    if not isinstance(entry.get("seq"), int) or not isinstance(entry.get("hash"), str):
        raise AuditCorrupt(f"{path}: the last line is not an audit entry (no seq or hash)")
    return entry


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
