"""The hash-chained audit log: round trip, every kind of tampering found at the right line, concurrent
appends from several processes, secrets refused, unicode intact."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from foundation.audit import GENESIS, AuditCorrupt, AuditLog, AuditVerification, entry_hash


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "state" / "local" / "audit.jsonl")


def fill(log: AuditLog, count: int) -> list[dict[str, Any]]:
    return [log.append({"event": "release", "version": f"v1.{n}.0", "outcome": "released"}) for n in range(count)]


def lines(log: AuditLog) -> list[str]:
    # Split on "\n" only, as the log does: str.splitlines() would also split at U+2028.
    return [line + "\n" for line in log.path.read_text(encoding="utf-8").split("\n")[:-1]]


def write_lines(log: AuditLog, content: list[str]) -> None:
    log.path.write_text("".join(content), encoding="utf-8")


def rehashed(entry: dict[str, Any]) -> str:
    entry = dict(entry)
    entry["hash"] = entry_hash(entry)
    return canonical(entry) + "\n"


def test_append_then_read_and_verify(log: AuditLog) -> None:
    before = datetime.now(UTC)
    first = log.append({"event": "release", "who": "alice", "phases": {"backup": 1.5, "deploy": 4.25}})
    second = log.append({"event": "rollback", "who": "bob", "hosts": ["app-1", "app-2"]})

    assert first["seq"] == 1
    assert first["prev"] == GENESIS
    assert second["seq"] == 2
    assert second["prev"] == first["hash"]
    assert before <= datetime.fromisoformat(first["at"]) <= datetime.now(UTC)
    assert datetime.fromisoformat(first["at"]).utcoffset().total_seconds() == 0
    # The hash is exactly sha256 of the canonical JSON of the entry without "hash".
    without_hash = {key: value for key, value in second.items() if key != "hash"}
    assert second["hash"] == hashlib.sha256(canonical(without_hash).encode()).hexdigest()

    assert log.entries() == [first, second]
    assert log.last() == second
    assert log.verify() == AuditVerification(ok=True, count=2, broken_at=None, problem=None)
    assert lines(log) == [canonical(first) + "\n", canonical(second) + "\n"]


def test_append_never_rewrites_earlier_lines(log: AuditLog) -> None:
    fill(log, 3)
    before = log.path.read_bytes()

    log.append({"event": "release", "version": "v2.0.0"})

    assert log.path.read_bytes().startswith(before)


def test_a_missing_or_empty_log_verifies_with_no_entries(log: AuditLog) -> None:
    assert log.verify() == AuditVerification(ok=True, count=0, broken_at=None, problem=None)
    assert log.entries() == []
    assert log.last() is None
    log.path.parent.mkdir(parents=True)
    log.path.touch()
    assert log.verify() == AuditVerification(ok=True, count=0, broken_at=None, problem=None)
    assert log.last() is None
    assert log.append({"event": "release"})["seq"] == 1


def test_an_edited_middle_line_is_found(log: AuditLog) -> None:
    fill(log, 3)
    content = lines(log)
    entry = json.loads(content[1])
    entry["outcome"] = "rolled back"
    content[1] = canonical(entry) + "\n"
    write_lines(log, content)

    assert log.verify() == AuditVerification(False, 1, 2, "line 2: hash does not match its content (edited?)")


def test_an_edited_line_with_a_recomputed_hash_breaks_the_next_line(log: AuditLog) -> None:
    fill(log, 3)
    content = lines(log)
    entry = json.loads(content[1])
    entry["outcome"] = "rolled back"
    content[1] = rehashed(entry)
    write_lines(log, content)

    result = log.verify()
    assert (result.ok, result.broken_at) == (False, 3)
    assert result.problem == "line 3: prev does not match line 2's hash (a line removed or reordered?)"


def test_a_deleted_line_is_found(log: AuditLog) -> None:
    fill(log, 4)
    content = lines(log)
    del content[1]
    write_lines(log, content)

    assert log.verify() == AuditVerification(
        False, 1, 2, "line 2: prev does not match line 1's hash (a line removed or reordered?)"
    )


def test_a_deleted_first_line_is_found(log: AuditLog) -> None:
    fill(log, 3)
    write_lines(log, lines(log)[1:])

    result = log.verify()
    assert (result.ok, result.count, result.broken_at) == (False, 0, 1)
    assert result.problem is not None
    assert result.problem.startswith("line 1: prev is not the start of a chain")


def test_swapped_lines_are_found(log: AuditLog) -> None:
    fill(log, 4)
    content = lines(log)
    content[1], content[2] = content[2], content[1]
    write_lines(log, content)

    assert log.verify() == AuditVerification(
        False, 1, 2, "line 2: prev does not match line 1's hash (a line removed or reordered?)"
    )


def test_a_last_line_truncated_mid_way_is_found_and_blocks_appending(log: AuditLog) -> None:
    fill(log, 3)
    data = log.path.read_bytes()
    log.path.write_bytes(data[: len(data) - 40])

    assert log.verify() == AuditVerification(False, 2, 3, "line 3: not JSON")
    with pytest.raises(AuditCorrupt, match="line 3: not JSON"):
        log.entries()
    with pytest.raises(AuditCorrupt, match="incomplete"):
        log.append({"event": "release"})
    assert log.path.read_bytes() == data[: len(data) - 40]


def test_a_forged_line_with_its_own_valid_hash_breaks_at_the_next_line(log: AuditLog) -> None:
    entries = fill(log, 4)
    content = lines(log)
    forged = {
        "event": "release",
        "version": "v9.9.9",
        "outcome": "released",
        "seq": 3,
        "at": entries[2]["at"],
        "prev": entries[1]["hash"],
    }
    content.insert(2, rehashed(forged))
    write_lines(log, content)

    assert log.verify() == AuditVerification(
        False, 3, 4, "line 4: prev does not match line 3's hash (a line removed or reordered?)"
    )


def test_a_wrong_seq_in_an_otherwise_valid_chain_is_found(log: AuditLog) -> None:
    first = log.append({"event": "release"})
    skipping = {"event": "release", "seq": 3, "at": first["at"], "prev": first["hash"]}
    with log.path.open("a", encoding="utf-8") as file:
        file.write(rehashed(skipping))

    assert log.verify() == AuditVerification(False, 1, 2, "line 2: seq 3 where 2 was expected")


def test_a_line_that_is_json_but_not_an_entry_is_found(log: AuditLog) -> None:
    fill(log, 1)
    with log.path.open("a", encoding="utf-8") as file:
        file.write('{"event":"release"}\n["not", "an", "object"]\n')

    result = log.verify()
    assert (result.broken_at, result.problem) == (2, "line 2: not an audit entry (no 'seq')")
    with pytest.raises(AuditCorrupt, match="line 3: not a JSON object"):
        log.entries()


def _append_many(path: str, who: str, count: int, barrier: Any) -> None:
    log = AuditLog(Path(path))
    barrier.wait()
    for n in range(count):
        log.append({"event": "release", "who": who, "n": n})


def test_concurrent_appends_from_two_processes_all_land_in_order(log: AuditLog) -> None:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_append_many, args=(str(log.path), who, 50, barrier)) for who in ("ctl-a", "ctl-b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]

    entries = log.entries()
    assert len(entries) == 100
    assert [entry["seq"] for entry in entries] == list(range(1, 101))
    for who in ("ctl-a", "ctl-b"):
        assert [entry["n"] for entry in entries if entry["who"] == who] == list(range(50))
    assert log.verify() == AuditVerification(ok=True, count=100, broken_at=None, problem=None)


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"password": "hunter2"}, "password"),
        ({"db": {"DB_PASSWORD": "x"}}, "db.DB_PASSWORD"),
        ({"mpesa": {"Passkey": "x"}}, "mpesa.Passkey"),
        ({"client_secret": "x"}, "client_secret"),
        ({"daraja": {"access_token": "x"}}, "daraja.access_token"),
        ({"headers": [{"ok": 1}, {"Authorization": "Bearer x"}]}, "headers[1].Authorization"),
        ({"admin": {"apiKey": "x"}}, "admin.apiKey"),
        ({"x-api-key": "x"}, "x-api-key"),
        ({"wallet": {"private_key": "0xabc"}}, "wallet.private_key"),
    ],
)
def test_records_with_secret_looking_keys_are_refused(log: AuditLog, record: dict[str, Any], key: str) -> None:
    fill(log, 1)
    before = log.path.read_bytes()

    with pytest.raises(ValueError, match="looks like a secret") as refused:
        log.append({"event": "release", **record})

    assert repr(key) in str(refused.value)
    assert log.path.read_bytes() == before


def test_records_that_cannot_be_stored_as_they_are_are_refused(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="'seq' is set by the audit log"):
        log.append({"event": "release", "seq": 7})
    with pytest.raises(ValueError, match="'hash'"):
        log.append({"hash": "0" * 64})
    with pytest.raises(TypeError):
        log.append({"event": "release", "hosts": {"app-1", "app-2"}})
    with pytest.raises(ValueError):
        log.append({"event": "release", "p95": float("nan")})
    assert not log.path.exists()


def test_unicode_round_trips(log: AuditLog) -> None:
    record = {
        "event": "release",
        "who": "Wanjirũ Kamau",
        "note": "Malipo ya M-Pesa → USDT ✓ 支払い 🚀 line\u2028separator and\nnewline",
        "sign_offs": [{"by": "Zoë", "comment": "Ça marche — sawa"}],
    }

    stored = log.append(record)
    log.append({"event": "release", "who": "Ωmega"})

    assert {key: stored[key] for key in record} == record
    assert log.entries()[0] == stored
    assert log.verify().ok
    raw = log.path.read_bytes()
    assert "Wanjirũ".encode() in raw
    assert raw.count(b"\n") == 2
