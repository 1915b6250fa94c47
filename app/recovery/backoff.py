"""When the STK-query sweep asks Daraja again (pure: unit-tested).

The first query goes T after the push (GOLIVE_RECOVERY_QUERY_AFTER_SECONDS); after the n-th query that brought no
definite answer the next waits initial * factor^(n-1), capped at the maximum, and never past the deadline, so the
last question is asked at the deadline itself before the payment goes to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    initial: float
    factor: float
    maximum: float
    deadline: float

    @classmethod
    def from_settings(cls, settings: object) -> Backoff:
        return cls(
            initial=settings.recovery_query_backoff_initial_seconds,  # type: ignore[attr-defined]
            factor=settings.recovery_query_backoff_factor,  # type: ignore[attr-defined]
            maximum=settings.recovery_query_backoff_max_seconds,  # type: ignore[attr-defined]
            deadline=settings.recovery_query_deadline_seconds,  # type: ignore[attr-defined]
        )

    def delay(self, queries_made: int) -> float:
        """Seconds to wait after the `queries_made`-th query (1 = the first) before the next one."""
        if queries_made < 1:
            raise ValueError("queries_made counts from 1")
        exponent = min(queries_made - 1, 64)  # beyond this the cap has long been reached; keeps floats finite
        return min(self.maximum, self.initial * self.factor**exponent)

    def deadline_at(self, submitted_at: datetime) -> datetime:
        return submitted_at + timedelta(seconds=self.deadline)

    def next_query_at(self, submitted_at: datetime, queries_made: int, now: datetime) -> datetime:
        return min(now + timedelta(seconds=self.delay(queries_made)), self.deadline_at(submitted_at))

    def past_deadline(self, submitted_at: datetime, now: datetime) -> bool:
        return now >= self.deadline_at(submitted_at)
