"""The secret in each payment's callback path: Daraja signs nothing, so the URL carries our proof."""

from __future__ import annotations

import hashlib
import hmac
import re
from uuid import UUID

TOKEN_LENGTH = 40
# What callback_token makes; anything else is refused before the comparison (compare_digest raises on non-ASCII).
TOKEN = re.compile(rf"[0-9a-f]{{{TOKEN_LENGTH}}}")


def callback_token(secret: str, payment_id: UUID) -> str:
    return hmac.new(secret.encode(), payment_id.bytes, hashlib.sha256).hexdigest()[:TOKEN_LENGTH]


def token_matches(secret: str, payment_id: UUID, presented: str) -> bool:
    if not TOKEN.fullmatch(presented):
        return False
    return hmac.compare_digest(callback_token(secret, payment_id), presented)


def callback_url(public_base_url: str, secret: str, payment_id: UUID) -> str:
    return f"{public_base_url}/api/callbacks/stk/{payment_id.hex}/{callback_token(secret, payment_id)}"
