"""Starting a payment: idempotent on the client's key, gated by the rollout flag, one STK push at most.

A push whose answer was lost is never resent: the payment goes to `unknown` and its callback (which
carries our payment id in its path) or a later query settles it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from app.domain.phone import mask_msisdn
from app.flags.bucketing import allows
from app.flags.store import FlagCache
from app.mpesa.client import DarajaClient
from app.mpesa.errors import DarajaError, DarajaFailure
from app.mpesa.stk_request import stk_push_body
from app.payments import repository
from app.payments.callback_token import callback_url
from app.payments.errors import (
    IdempotencyConflict,
    MpesaBusy,
    MpesaRejected,
    MpesaUnavailable,
    NotInRollout,
    PaymentRefused,
    UnknownPackage,
)
from app.payments.model import FAILED, INITIATED, SUBMITTED, UNKNOWN, Payment
from app.payments.packages import PackageCatalogue
from app.settings import Settings

log = logging.getLogger("golive.payments")
PAYMENTS_FEATURE = "mpesa_payments"
RATE_LIMIT_RETRY_SECONDS = 30


@dataclass(frozen=True)
class PaymentRequest:
    msisdn: str
    package_id: str
    wallet_address: str

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.msisdn}|{self.package_id}|{self.wallet_address}".encode()).hexdigest()


class PaymentService:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        daraja: DarajaClient,
        flags: FlagCache,
        packages: PackageCatalogue,
    ):
        self._settings = settings
        self._pool = pool
        self._daraja = daraja
        self._flags = flags
        self._packages = packages

    async def start(self, request: PaymentRequest, idempotency_key: str) -> tuple[Payment, bool]:
        """The payment for this key (created now or earlier) and whether this call created it."""
        if not allows(await self._flags.get(PAYMENTS_FEATURE), request.msisdn):
            async with self._pool.connection() as conn:
                existing = await repository.find_by_idempotency_key(conn, idempotency_key)
            if existing is not None:  # a retry of a payment made before the flag changed
                return self._replay(existing, request), False
            raise NotInRollout(
                "M-Pesa payments are not available for this number yet; try again later", retry_after=3600
            )
        package = await self._packages.get(request.package_id)
        if package is None:
            raise UnknownPackage(f"unknown package {request.package_id!r}; see GET /api/packages")
        async with self._pool.connection() as conn:
            payment = await repository.insert_initiated(
                conn,
                payment_id=uuid.uuid4(),
                idempotency_key=idempotency_key,
                fingerprint=request.fingerprint(),
                msisdn=request.msisdn,
                package=package,
                wallet=request.wallet_address,
            )
            if payment is None:  # the key is taken: a retry, or a concurrent request that won the insert
                raced = await repository.find_by_idempotency_key(conn, idempotency_key)
                assert raced is not None
                return self._replay(raced, request), False
        return await self._push(payment), True

    @staticmethod
    def _replay(existing: Payment, request: PaymentRequest) -> Payment:
        if existing.request_fingerprint != request.fingerprint():
            raise IdempotencyConflict(
                "this Idempotency-Key was already used for a different payment request; use a new key",
                payment_id=str(existing.id),
            )
        return existing

    async def _push(self, payment: Payment) -> Payment:
        secret = self._settings.callback_secret
        assert secret is not None
        body = stk_push_body(
            self._settings,
            msisdn=payment.msisdn,
            amount_kes=payment.amount_kes,
            now=datetime.now(UTC),
            callback_url=callback_url(self._settings.public_base_url, secret.get_secret_value(), payment.id),
        )
        try:
            accepted = await self._daraja.stk_push(body)
        except DarajaError as exc:
            return await self._push_failed(payment, exc)
        return await self._leave_initiated(
            payment,
            SUBMITTED,
            "STK push accepted",
            merchant_request_id=accepted.merchant_request_id,
            checkout_request_id=accepted.checkout_request_id,
            submitted_at=datetime.now(UTC),
        )

    async def _leave_initiated(self, payment: Payment, to_state: str, reason: str, **fields: object) -> Payment:
        async with self._pool.connection() as conn:
            updated = await repository.transition(
                conn, payment.id, allowed_from=(INITIATED,), to_state=to_state, reason=reason, **fields
            )
            # A callback may beat us here and settle the payment first; then keep what it recorded.
            return updated or await repository.find_by_id(conn, payment.id) or payment

    async def _push_failed(self, payment: Payment, exc: DarajaError) -> Payment:
        context = {"payment_id": str(payment.id), "msisdn": mask_msisdn(payment.msisdn), "error": exc.message}
        if exc.failure is DarajaFailure.OUTCOME_UNKNOWN:
            log.warning("STK push answer lost; payment left for its callback or review", extra=context)
            return await self._leave_initiated(
                payment,
                UNKNOWN,
                "STK push outcome unknown (answer lost); not resent",
                needs_review=True,
                failure_reason=exc.message,
            )
        log.warning("STK push refused", extra={**context, "failure": exc.failure.value})
        await self._leave_initiated(
            payment,
            FAILED,
            "STK push refused",
            failure_reason=f"{exc.failure.value}: {exc.message}",
            settled_at=datetime.now(UTC),
            retryable=exc.failure is not DarajaFailure.REJECTED,
        )
        raise self._refusal(exc, str(payment.id))

    @staticmethod
    def _refusal(exc: DarajaError, payment_id: str) -> PaymentRefused:
        after = "; this payment is closed, retry with a new Idempotency-Key"
        if exc.failure is DarajaFailure.REJECTED:
            return MpesaRejected(f"M-Pesa rejected the payment request: {exc.message}", payment_id=payment_id)
        if exc.failure is DarajaFailure.RATE_LIMITED:
            return MpesaBusy(
                f"M-Pesa is busy{after} in {RATE_LIMIT_RETRY_SECONDS} s",
                payment_id=payment_id,
                retry_after=RATE_LIMIT_RETRY_SECONDS,
            )
        if exc.failure is DarajaFailure.CREDENTIALS:
            log.error("Daraja refused our credentials or merchant configuration", extra={"error": exc.message})
        return MpesaUnavailable(f"M-Pesa is unavailable{after} later", payment_id=payment_id, retry_after=60)
