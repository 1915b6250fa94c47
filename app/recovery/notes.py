"""A recovery action that changed nothing is still recorded: a payment event from the state to itself."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


async def record(conn: AsyncConnection, payment_id: UUID, reason: str, detail: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO payment_events (payment_id, from_state, to_state, reason, detail)
           SELECT id, state, state, %s, %s FROM payments WHERE id = %s""",
        (reason[:1000], json.dumps(detail), payment_id),
    )
