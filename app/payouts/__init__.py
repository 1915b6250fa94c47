"""USDT package payouts: once a payment is paid, the treasury sends its package on-chain.

payout_pending → broadcast (nonce allocated, signed transaction stored, then sent) → confirming (a receipt
with status 1 and the token's Transfer log) → completed (N confirmations, the receipt's block re-checked),
or payout_failed (needs review). The steps are sweeps run by the worker (app.worker); each is safe to
interrupt at any point: what was stored is resumed, nothing is sent twice for a payment.
"""
