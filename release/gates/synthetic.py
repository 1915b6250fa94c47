"""Synthetic payments against the Daraja simulator: traffic where there is no real traffic, so that the
gates have samples. Loopback and lab targets only; bounded in count and time; it stops by itself."""

from __future__ import annotations

import ipaddress
import itertools
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from foundation.sections import SyntheticTraffic

LAB_NETWORK = ipaddress.ip_network("198.18.0.0/24")  # design.md's lab bridge
MAX_DURATION_SECONDS = 600.0
MAX_RATE_PER_SECOND = 20.0
MAX_SETTLE_SECONDS = 120.0
MAX_ERRORS_KEPT = 20
REQUEST_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.2
RATE_LIMITED_PAUSE_SECONDS = 1.0
PROGRESS_SECONDS = 5.0
ACCEPTED = (200, 201, 202)
PAID, FAILED, UNKNOWN = "paid", "failed", "unknown"
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@dataclass(frozen=True)
class SyntheticReport:
    started: int  # payment requests sent
    accepted: int  # answered 2xx with a payment
    refused: dict[int, int]  # other answers: status → how many
    paid: int
    failed: int
    unsettled: int  # accepted but neither paid nor failed by the settle timeout (pending, or unknown)
    errors: list[str]  # requests that got no answer (the first few)


@dataclass
class _Tally:
    started: int = 0
    accepted: list[str] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def report(self) -> SyntheticReport:
        paid, failed = self.states[PAID], self.states[FAILED]
        return SyntheticReport(
            self.started,
            len(self.accepted),
            dict(self.refused),
            paid,
            failed,
            len(self.accepted) - paid - failed,
            list(self.errors),
        )


def synthetic_payments(
    entry_url: str,
    *,
    duration: float,
    rate_per_second: float = SyntheticTraffic.rate_per_second,
    phone_endings: Sequence[str] = ("00",),
    package_id: str = "usdt-5",
    wallet: str = WALLET,
    settle_timeout: float = 10.0,
    progress: Callable[[str], None] | None = None,
    admit: Callable[[str], bool] | None = None,
    verify: bool | str = True,
) -> SyntheticReport:
    """For about `duration` seconds, POST /api/payments at `rate_per_second` (a fresh Idempotency-Key and
    a fresh simulator number 07XXXXXXYY, YY taken in turn from `phone_endings`), with a GET /api/packages
    after each; then poll the accepted payments until they settle or `settle_timeout` passes. `admit`, given
    the number in its 2547… form, keeps only payers it accepts (e.g. those inside a rollout percentage)."""
    _check(entry_url, duration, rate_per_second, settle_timeout, phone_endings)
    say = progress or (lambda _line: None)
    tally = _Tally()
    with httpx.Client(base_url=entry_url, timeout=REQUEST_TIMEOUT_SECONDS, verify=verify) as client:
        _send(
            client,
            tally,
            duration=duration,
            rate=rate_per_second,
            phones=_phones(phone_endings, admit),
            package_id=package_id,
            wallet=wallet,
            say=say,
        )
        _settle(client, tally, settle_timeout)
    report = tally.report()
    say(
        f"synthetic: {report.started} payments sent, {report.accepted} accepted, {report.paid} paid, "
        f"{report.failed} failed, {report.unsettled} unsettled, refused {report.refused or 'none'}"
    )
    return report


def _check(url: str, duration: float, rate: float, settle_timeout: float, endings: Sequence[str]) -> None:
    if not 0 < duration <= MAX_DURATION_SECONDS:
        raise ValueError(f"synthetic traffic lasts more than 0 and at most {MAX_DURATION_SECONDS:g} s")
    if not 0 < rate <= MAX_RATE_PER_SECOND:
        raise ValueError(f"synthetic traffic runs at more than 0 and at most {MAX_RATE_PER_SECOND:g} payments/s")
    if not 0 <= settle_timeout <= MAX_SETTLE_SECONDS:
        raise ValueError(f"synthetic settle_timeout is between 0 and {MAX_SETTLE_SECONDS:g} s")
    if not endings or not all(len(ending) == 2 and ending.isdigit() for ending in endings):
        raise ValueError(f"phone endings are two digits each (daraja.md), not {list(endings)!r}")
    check_target(url)


def check_target(url: str) -> None:
    """ValueError unless every address the URL's host resolves to is loopback or in the lab network."""
    host = httpx.URL(url).host
    addresses = _addresses(host) if host else []
    if not addresses or not all(_lab_or_loopback(address) for address in addresses):
        raise ValueError(f"synthetic traffic goes to loopback or the lab ({LAB_NETWORK}) only, not {url}")


def _addresses(host: str) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]
    except OSError:
        return []


def _lab_or_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_loopback or ip in LAB_NETWORK


def _phones(endings: Sequence[str], admit: Callable[[str], bool] | None = None) -> Iterator[str]:
    first = random.randrange(10**6)
    for number, ending in zip(itertools.count(first), itertools.cycle(endings), strict=False):
        phone = f"07{number % 10**6:06d}{ending}"
        if admit is None or admit("254" + phone[1:]):
            yield phone


def _send(
    client: httpx.Client,
    tally: _Tally,
    *,
    duration: float,
    rate: float,
    phones: Iterator[str],
    package_id: str,
    wallet: str,
    say: Callable[[str], None],
) -> None:
    started = time.monotonic()
    next_line = started + PROGRESS_SECONDS
    for index in itertools.count():
        due = started + index / rate  # at most duration * rate payments
        if due >= started + duration or time.monotonic() >= started + duration:
            return
        time.sleep(max(0.0, due - time.monotonic()))
        _pay(client, tally, next(phones), package_id, wallet)
        _get(client, tally, "/api/packages")
        if time.monotonic() >= next_line:
            say(f"synthetic: {time.monotonic() - started:.0f} s, {tally.started} payments sent")
            next_line += PROGRESS_SECONDS


def _pay(client: httpx.Client, tally: _Tally, phone: str, package_id: str, wallet: str) -> None:
    tally.started += 1
    body = {"phone": phone, "package_id": package_id, "wallet_address": wallet}
    try:
        response = client.post("/api/payments", json=body, headers={"Idempotency-Key": f"synthetic-{uuid.uuid4()}"})
    except httpx.HTTPError as exc:
        tally.error(f"POST /api/payments: {type(exc).__name__}: {exc}")
        return
    if response.status_code in ACCEPTED:
        tally.accepted.append(response.json()["id"])
    else:
        tally.refused[response.status_code] += 1


def _get(client: httpx.Client, tally: _Tally, path: str) -> httpx.Response | None:
    try:
        return client.get(path)
    except httpx.HTTPError as exc:
        tally.error(f"GET {path}: {type(exc).__name__}: {exc}")
        return None


def _settle(client: httpx.Client, tally: _Tally, settle_timeout: float) -> None:
    deadline = time.monotonic() + settle_timeout
    pending = list(tally.accepted)
    while pending:
        still, pause = [], POLL_SECONDS
        for position, payment_id in enumerate(pending):
            response = _get(client, tally, f"/api/payments/{payment_id}")
            if response is not None and response.status_code == 429:  # rate limited: wait, don't hammer
                still.extend(pending[position:])
                pause = RATE_LIMITED_PAUSE_SECONDS
                break
            state = response.json().get("state") if response is not None and response.status_code == 200 else None
            if state in (PAID, FAILED, UNKNOWN):
                tally.states[state] += 1
            else:
                still.append(payment_id)
        pending = still
        if not pending or time.monotonic() >= deadline:
            return
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
