"""The secret in each payment's callback path: Daraja signs nothing, so the URL carries our proof."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID


def callback_token(secret: str, payment_id: UUID) -> str:
    return hmac.new(secret.encode(), payment_id.bytes, hashlib.sha256).hexdigest()[:40]


def token_matches(secret: str, payment_id: UUID, presented: str) -> bool:
    return hmac.compare_digest(callback_token(secret, payment_id), presented)


def callback_url(public_base_url: str, secret: str, payment_id: UUID) -> str:
    return f"{public_base_url}/api/callbacks/stk/{payment_id.hex}/{callback_token(secret, payment_id)}"
