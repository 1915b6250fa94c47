"""Identifiers in Daraja's formats. One generator lives for the whole process (a reset keeps it),
so ids stay unique even across resets."""

import itertools
import random
import secrets
import string
from datetime import datetime

from simulators.daraja.clock import NAIROBI

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_ACCESS_TOKEN_LENGTH = 28


class IdGenerator:
    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._random = random.Random(secrets.randbits(64))
        self._receipts: set[str] = set()

    def request_id(self) -> str:
        return f"{self._random.randint(10000, 99999)}-{next(self._counter)}-1"

    def merchant_request_id(self) -> str:
        """`NNNNN-NNNNNNNN-N`, e.g. 29115-34620561-1."""
        return f"{self._random.randint(10000, 99999)}-{next(self._counter) % 10**8:08d}-1"

    def checkout_request_id(self, now: datetime) -> str:
        """`ws_CO_` + DDMMYYYYHHmmss (Nairobi) + 10 digits; the counter part keeps it unique."""
        stamp = now.astimezone(NAIROBI).strftime("%d%m%Y%H%M%S")
        return f"ws_CO_{stamp}{self._random.randint(0, 9999):04d}{next(self._counter) % 10**6:06d}"

    def receipt_number(self) -> str:
        """10 upper-case alphanumerics starting with a letter (e.g. NLJ7RT61SV), never repeated."""
        while True:
            receipt = self._random.choice(string.ascii_uppercase) + "".join(self._random.choices(_UPPER_ALNUM, k=9))
            if receipt not in self._receipts:
                self._receipts.add(receipt)
                return receipt

    @staticmethod
    def access_token() -> str:
        return "".join(secrets.choice(_ALNUM) for _ in range(_ACCESS_TOKEN_LENGTH))
