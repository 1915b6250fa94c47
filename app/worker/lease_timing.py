"""When to renew the leader lease and whether this worker may still act as the leader (pure: unit-tested).

Times are this process's monotonic clock. A lease is believed only until `ttl` after the moment its last
acquire/renew statement was *sent*: the database set the real expiry from its own `now()`, which is later,
so the local belief always ends first and a worker never sweeps on a lease another worker may already hold.
"""

from __future__ import annotations

HEARTBEATS_PER_TTL = 3


def heartbeat_interval(ttl: float) -> float:
    """Renew every third of the lifetime: two renewals may fail before the lease lapses."""
    return ttl / HEARTBEATS_PER_TTL


def valid_until(sent_at: float, ttl: float) -> float:
    return sent_at + ttl


def still_leader(renewed: bool | None, now: float, believed_until: float) -> bool:
    """After a renewal attempt: True (renewed), False (refused: another worker holds the lease or ours lapsed in
    the database), None (the database did not answer: we stay leader only while our belief lasts)."""
    if renewed is None:
        return now < believed_until
    return renewed
