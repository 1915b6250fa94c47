"""OAuth access tokens: issued with a lifetime; a new one may invalidate all earlier ones."""

import time
from collections.abc import Callable


class TokenStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry_by_token: dict[str, float] = {}

    def issue(self, token: str, ttl_seconds: float, *, invalidate_previous: bool) -> None:
        now = self._clock()
        if invalidate_previous:
            self._expiry_by_token.clear()
        else:
            self._expiry_by_token = {t: e for t, e in self._expiry_by_token.items() if e > now}
        self._expiry_by_token[token] = now + ttl_seconds

    def is_valid(self, token: str) -> bool:
        expiry = self._expiry_by_token.get(token)
        return expiry is not None and self._clock() < expiry

    def clear(self) -> None:
        self._expiry_by_token.clear()
