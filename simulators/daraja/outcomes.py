"""Which outcome a push gets (daraja.md "Default scenarios") and what that outcome means for delivery."""

import re
from dataclasses import dataclass

NO_CALLBACK = "no_callback"
DUPLICATE_CALLBACK = "duplicate_callback"
LATE_CALLBACK = "late_callback"
DELIVERY_OUTCOMES = (NO_CALLBACK, DUPLICATE_CALLBACK, LATE_CALLBACK)

LATE_CALLBACK_FACTOR = 10
SANDBOX_UNREACHABLE_MSISDN = "254708374149"
UNREACHABLE = "1037"
SUCCESS = "0"

# Last two digits of the PhoneNumber -> outcome; any other ending succeeds.
ENDING_OUTCOMES = {
    "00": SUCCESS,
    "01": "1",
    "17": "17",
    "10": "1001",
    "19": "1019",
    "20": "2001",
    "32": "1032",
    "37": "1037",
    "90": NO_CALLBACK,
    "91": DUPLICATE_CALLBACK,
    "92": LATE_CALLBACK,
}

_RESULT_CODE = re.compile(r"[0-9]{1,9}")


def is_valid_outcome(outcome: object) -> bool:
    """A result code as a string ("0", "1032", any unlisted "5555") or a delivery outcome."""
    return isinstance(outcome, str) and (outcome in DELIVERY_OUTCOMES or bool(_RESULT_CODE.fullmatch(outcome)))


def choose_outcome(msisdn: str, amount: int, outcomes: dict[str, str], amount_outcomes: dict[str, str]) -> str:
    """Per-MSISDN override, then per-amount override, then the sandbox's test number, then the ending."""
    if msisdn in outcomes:
        return outcomes[msisdn]
    if str(amount) in amount_outcomes:
        return amount_outcomes[str(amount)]
    if msisdn == SANDBOX_UNREACHABLE_MSISDN:
        return UNREACHABLE
    return ENDING_OUTCOMES.get(msisdn[-2:], SUCCESS)


@dataclass(frozen=True)
class Delivery:
    result_code: int
    callback_count: int
    delay_factor: int


def delivery_for(outcome: str) -> Delivery:
    """The underlying result, how many callbacks carry it and how late (in callback delays) they go.
    The delivery outcomes all pay successfully: only the callback misbehaves."""
    if outcome == NO_CALLBACK:
        return Delivery(result_code=0, callback_count=0, delay_factor=1)
    if outcome == DUPLICATE_CALLBACK:
        return Delivery(result_code=0, callback_count=2, delay_factor=1)
    if outcome == LATE_CALLBACK:
        return Delivery(result_code=0, callback_count=1, delay_factor=LATE_CALLBACK_FACTOR)
    return Delivery(result_code=int(outcome), callback_count=1, delay_factor=1)
