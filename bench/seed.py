"""Database work around the measurements: payments in `submitted` for the callbacks to settle (written
straight into the database, as if their STK pushes had been accepted), the file of callback requests
wrk sends, and the checks that what wrk measured really happened."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.payments.callback_token import callback_url

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
PACKAGE_ID, PRICE_KES = "usdt-10", 1300


@dataclass(frozen=True)
class Seeded:
    payment_id: uuid.UUID
    checkout_request_id: str
    receipt: str
    msisdn: str


def seed_submitted(database_url: str, label: str, count: int) -> list[Seeded]:
    """`count` payments for usdt-10 in state `submitted`, each with its CheckoutRequestID; `label`
    (letters and digits) makes their keys and receipts unique in the database."""
    seeded = [
        Seeded(
            payment_id=uuid.uuid4(),
            checkout_request_id=f"ws_CO_bench_{label}_{index}",
            receipt=f"B{label.upper()}{index:07d}"[:20],
            msisdn=f"2547{index % 10**8:08d}",
        )
        for index in range(count)
    ]
    columns = (
        "id, idempotency_key, request_fingerprint, msisdn, package_id, amount_kes, wallet_address, state,"
        " merchant_request_id, checkout_request_id, submitted_at"
    )
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY payments ({columns}) FROM STDIN") as copy:
            for item in seeded:
                copy.write_row(
                    (
                        item.payment_id,
                        f"bench-{label}-{item.payment_id.hex}",
                        "0" * 64,
                        item.msisdn,
                        PACKAGE_ID,
                        PRICE_KES,
                        WALLET,
                        "submitted",
                        f"bench-{label}",
                        item.checkout_request_id,
                        "now",
                    )
                )
        conn.commit()
    return seeded


def callback_body(item: Seeded) -> str:
    """A success callback in Daraja's shape (shared/daraja.md) for one seeded payment."""
    return json.dumps(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": "29115-34620561-1",
                    "CheckoutRequestID": item.checkout_request_id,
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": PRICE_KES},
                            {"Name": "MpesaReceiptNumber", "Value": item.receipt},
                            {"Name": "Balance"},
                            {"Name": "TransactionDate", "Value": 20250101120000},
                            {"Name": "PhoneNumber", "Value": int(item.msisdn)},
                        ]
                    },
                }
            }
        },
        separators=(",", ":"),
    )


def write_callback_file(path: Path, seeded: list[Seeded], public_url: str, secret: str) -> Path:
    """One "<path>\\t<body>" line per payment, the path being the one the service gave Daraja."""
    lines = []
    for item in seeded:
        address = callback_url(public_url, secret, item.payment_id)
        lines.append(f"{address.removeprefix(public_url)}\t{callback_body(item)}\n")
    path.write_text("".join(lines))
    return path


def callback_statuses(
    database_url: str, label: str | None = None, settle_seconds: float = 15.0
) -> tuple[dict[str, int], float]:
    """What became of the callbacks for the payments seeded with `label` (all callbacks if None), once
    none is left `received` (applying runs after the acknowledgement), and how long that took."""
    query = "SELECT c.status, count(*) FROM stk_callbacks c"
    params: tuple[str, ...] = ()
    if label is not None:
        query += " JOIN payments p ON p.id = c.payment_id WHERE p.idempotency_key LIKE %s"
        params = (f"bench-{label}-%",)
    started = time.monotonic()
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(query + " GROUP BY c.status", params).fetchall()  # type: ignore[arg-type]
        statuses = {status: int(count) for status, count in rows}
        waited = time.monotonic() - started
        if not statuses.get("received") or waited > settle_seconds:
            return statuses, round(waited, 2)
        time.sleep(0.2)


def payment_states(database_url: str, key_prefix: str, settle_seconds: float = 15.0) -> dict[str, int]:
    """The states of the payments whose Idempotency-Key starts with `key_prefix`, once none is left
    `initiated` (requests still in flight when wrk stopped finish their push)."""
    started = time.monotonic()
    while True:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT state, count(*) FROM payments WHERE idempotency_key LIKE %s GROUP BY state",
                (key_prefix.replace("_", r"\_") + "%",),
            ).fetchall()
        states = {state: int(count) for state, count in rows}
        if not states.get("initiated") or time.monotonic() - started > settle_seconds:
            return states
        time.sleep(0.2)
