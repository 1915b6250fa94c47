"""Everything the simulator holds in memory: config, tokens, accepted pushes, and the records tests read."""

import asyncio
import dataclasses
import random
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simulators.daraja.callbacks import CallbackSender, callback_body
from simulators.daraja.clock import daraja_timestamp, iso_utc
from simulators.daraja.config import SimConfig
from simulators.daraja.ids import IdGenerator
from simulators.daraja.outcomes import choose_outcome, delivery_for
from simulators.daraja.results import callback_description
from simulators.daraja.settings import Settings
from simulators.daraja.tokens import TokenStore
from simulators.daraja.validation import PushRequest


@dataclass(frozen=True)
class Push:
    checkout_request_id: str
    merchant_request_id: str
    msisdn: str
    amount: int
    account_reference: str
    callback_url: str
    outcome: str
    result_code: int
    callback_count: int
    accepted_at: float
    # The payment's result is known from settles_at on (the query reveals it); the callback goes at
    # callback_at, which is later for late_callback and never for no_callback.
    settles_at: float
    callback_at: float | None
    receipt_number: str | None
    transaction_date: int | None

    def is_settled(self, now: float) -> bool:
        return now >= self.settles_at

    def callback_body(self) -> dict[str, Any]:
        return callback_body(
            merchant_request_id=self.merchant_request_id,
            checkout_request_id=self.checkout_request_id,
            result_code=self.result_code,
            result_desc=callback_description(self.result_code),
            amount=self.amount,
            receipt_number=self.receipt_number,
            transaction_date=self.transaction_date,
            phone_number=self.msisdn,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "accepted_at": iso_utc(self.accepted_at),
            "settles_at": iso_utc(self.settles_at),
            "callback_at": iso_utc(self.callback_at) if self.callback_at is not None else None,
        }


class SimulatorState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.startup_config = SimConfig(callback_delay=settings.callback_delay, token_ttl=settings.token_ttl)
        self.config = self.startup_config
        self.ids = IdGenerator()
        self.random = random.Random(secrets.randbits(64))
        self.tokens = TokenStore()
        self.requests: list[dict[str, Any]] = []
        self.pushes: dict[str, Push] = {}
        self.callbacks: list[dict[str, Any]] = []
        self.sender = CallbackSender(source_address=settings.callback_source, shortcode=settings.shortcode)
        self._tasks: set[asyncio.Task[None]] = set()

    def accept_push(self, request: PushRequest) -> Push:
        now = time.time()
        config = self.config
        outcome = choose_outcome(request.phone_number, request.amount, config.outcomes, config.amount_outcomes)
        delivery = delivery_for(outcome)
        settles_at = now + config.callback_delay
        paid = delivery.result_code == 0
        push = Push(
            checkout_request_id=self.ids.checkout_request_id(datetime.fromtimestamp(now, UTC)),
            merchant_request_id=self.ids.merchant_request_id(),
            msisdn=request.phone_number,
            amount=request.amount,
            account_reference=request.account_reference,
            callback_url=request.callback_url,
            outcome=outcome,
            result_code=delivery.result_code,
            callback_count=delivery.callback_count,
            accepted_at=now,
            settles_at=settles_at,
            callback_at=(now + config.callback_delay * delivery.delay_factor if delivery.callback_count else None),
            receipt_number=self.ids.receipt_number() if paid else None,
            transaction_date=int(daraja_timestamp(datetime.fromtimestamp(settles_at, UTC))) if paid else None,
        )
        self.pushes[push.checkout_request_id] = push
        if push.callback_at is not None:
            self._spawn(self._deliver_callbacks(push))
        return push

    async def _deliver_callbacks(self, push: Push) -> None:
        assert push.callback_at is not None
        await asyncio.sleep(max(0.0, push.callback_at - time.time()))
        body = push.callback_body()
        for _ in range(push.callback_count):
            self.callbacks.append(await self.sender.send(push.callback_url, body, push.checkout_request_id))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def reset(self) -> None:
        """Back to the startup config with nothing recorded; pending callbacks are cancelled."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.config = self.startup_config
        self.tokens.clear()
        self.requests.clear()
        self.pushes.clear()
        self.callbacks.clear()

    async def close(self) -> None:
        tasks = list(self._tasks)
        self.reset()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.aclose()
