"""Daraja speaks Nairobi wall-clock time (UTC+3, no daylight saving)."""

import re
from datetime import UTC, datetime, timedelta, timezone

NAIROBI = timezone(timedelta(hours=3), "EAT")
_TIMESTAMP = re.compile(r"[0-9]{14}")


def daraja_timestamp(moment: datetime) -> str:
    """`YYYYMMDDHHmmss` in Nairobi time, as Daraja's Timestamp and TransactionDate use it."""
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def parse_daraja_timestamp(text: str) -> datetime | None:
    """The Nairobi moment a `YYYYMMDDHHmmss` string names, or None when it names none."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError:
        return None


def iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")
