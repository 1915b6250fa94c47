"""Payout and treasury metrics (the worker sets them; /metrics of every process shows them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PAYOUT_STEPS = Counter(
    "golive_payout_steps_total",
    "Payout steps, by step (started, signed, sent, send_failed, replaced, mined, reverted, completed, reorged, failed)",
    ["step"],
)
TREASURY_BALANCE = Gauge(
    "golive_treasury_balance",
    "Treasury balance as last read, by asset (usdt in whole tokens, native in ether)",
    ["asset"],
    multiprocess_mode="mostrecent",
)
TREASURY_SHORT = Gauge(
    "golive_treasury_short",
    "1 while payouts wait because the treasury lacks the asset (usdt or gas), else 0",
    ["asset"],
    multiprocess_mode="mostrecent",
)
PAYOUTS_WAITING = Gauge(
    "golive_payouts_waiting",
    "Payouts waiting for the treasury (USDT or gas) at the last send sweep",
    multiprocess_mode="mostrecent",
)
PAYOUT_SECONDS = Histogram(
    "golive_payout_seconds",
    "Time from the payment becoming paid to its payout completing",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
