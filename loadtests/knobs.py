"""The scenarios' knobs, read from the environment (GOLIVE_LOADTEST_*) so that a master and its workers,
started with the same environment, run the same mix. Locust's own options (-u, -r, -t, user classes by
name, --tags) work on top. Bad values are refused with the variable's name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "GOLIVE_LOADTEST_"
# What the Daraja simulator's payers do, by the last two digits of the phone (simulators/daraja/README.md):
# these endings decline; any other pays (90, 91, 92 pay with no, a duplicate or a late callback).
DECLINING_ENDINGS = frozenset({"01", "10", "17", "19", "20", "32", "37"})
FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class KnobInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Knobs:
    buyer_weight: int = 3  # users who buy a package and poll it until paid or failed
    reader_weight: int = 6  # background: health, version, packages
    admin_weight: int = 1  # an operator reading the flags, now and then setting the probe flag
    think_min: float = 0.5  # seconds between two tasks of a user (uniform between min and max)
    think_max: float = 2.0
    admin_think_min: float = 3.0
    admin_think_max: float = 8.0
    poll_seconds: float = 0.5  # a buyer's wait between two GET /api/payments/{id}
    settle_seconds: float = 20.0  # a payment still unsettled after this is a failure
    retry_share: float = 0.05  # share of buyers who POST again with the same Idempotency-Key
    phone_endings: tuple[str, ...] = ("00",)  # buyers' phones end in one of these (the simulator's outcome)
    package_ids: tuple[str, ...] = ()  # empty: any package GET /api/packages lists
    admin_flag: str = "loadtest_probe"  # the flag the admin sets (never mpesa_payments: buyers would be refused)
    request_timeout: float = 10.0
    verify_tls: bool = True  # 0 for a lab CA the controller does not trust (fab loadtest verifies staging/production)


def _number(env: Mapping[str, str], name: str, default: float, *, whole: bool = False, most: float | None = None):
    raw = env.get(PREFIX + name.upper(), "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise KnobInvalid(f"{PREFIX}{name.upper()} must be {kind}, not {raw!r}") from None
    if value < 0 or (most is not None and value > most):
        raise KnobInvalid(f"{PREFIX}{name.upper()} must be between 0 and {most if most is not None else 'more'}")
    return value


def _words(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(PREFIX + name.upper(), "").strip()
    return tuple(part.strip() for part in raw.split(",") if part.strip()) if raw else default


def from_environ(env: Mapping[str, str] | None = None) -> Knobs:
    env = os.environ if env is None else env
    base = Knobs()
    knobs = Knobs(
        buyer_weight=_number(env, "buyer_weight", base.buyer_weight, whole=True, most=1000),
        reader_weight=_number(env, "reader_weight", base.reader_weight, whole=True, most=1000),
        admin_weight=_number(env, "admin_weight", base.admin_weight, whole=True, most=1000),
        think_min=_number(env, "think_min", base.think_min, most=600),
        think_max=_number(env, "think_max", base.think_max, most=600),
        admin_think_min=_number(env, "admin_think_min", base.admin_think_min, most=600),
        admin_think_max=_number(env, "admin_think_max", base.admin_think_max, most=600),
        poll_seconds=_number(env, "poll_seconds", base.poll_seconds, most=60),
        settle_seconds=_number(env, "settle_seconds", base.settle_seconds, most=600),
        retry_share=_number(env, "retry_share", base.retry_share, most=1),
        phone_endings=_words(env, "phone_endings", base.phone_endings),
        package_ids=_words(env, "package_ids", base.package_ids),
        admin_flag=env.get(PREFIX + "ADMIN_FLAG", "").strip() or base.admin_flag,
        request_timeout=_number(env, "request_timeout", base.request_timeout, most=120),
        verify_tls=env.get(PREFIX + "VERIFY_TLS", "1").strip().lower() not in ("0", "false", "no"),
    )
    if knobs.think_min > knobs.think_max or knobs.admin_think_min > knobs.admin_think_max:
        raise KnobInvalid(f"{PREFIX}THINK_MIN/ADMIN_THINK_MIN must not exceed the matching *_MAX")
    if knobs.buyer_weight + knobs.reader_weight + knobs.admin_weight == 0:
        raise KnobInvalid("every user weight is 0: nothing would run")
    bad = [ending for ending in knobs.phone_endings if not re.fullmatch(r"\d\d", ending)]
    if bad or not knobs.phone_endings:
        raise KnobInvalid(f"{PREFIX}PHONE_ENDINGS: two digits each, comma-separated (e.g. 00,32), not {bad}")
    if not FLAG_NAME.match(knobs.admin_flag) or knobs.admin_flag == "mpesa_payments":
        raise KnobInvalid(f"{PREFIX}ADMIN_FLAG: a flag name other than mpesa_payments, not {knobs.admin_flag!r}")
    return knobs


def expected_state(phone: str) -> str:
    """What the simulator's payer with this phone does: "paid" or "failed"."""
    return "failed" if phone[-2:] in DECLINING_ENDINGS else "paid"
