"""What each ResultCode says. The query's wording differs from the callback's for some codes, as it does
at Safaricom: clients must branch on the code, never on the text."""

CALLBACK_DESCRIPTIONS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    2: "Declined due to limit rule: less than the minimum transaction amount.",
    3: "Declined due to limit rule: greater than the maximum transaction amount.",
    4: "Declined due to limit rule: would exceed daily transfer limit.",
    8: "Declined due to limit rule: would exceed the maximum balance.",
    17: "Rule limited.",
    1001: "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    1019: "Transaction has expired",
    1025: "An error occurred while sending a push request",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
    2028: "The request is not permitted according to product assignment",
    9999: "An error occurred while sending a push request",
}

_QUERY_WORDING = {
    1: "The balance is insufficient for the transaction",
    1032: "Request canceled by user",
    1037: "DS timeout user cannot be reached.",
    2001: "The initiator information is invalid",
}

STILL_PROCESSING_CODE = "4999"
STILL_PROCESSING_DESCRIPTION = "The transaction is still under processing"


def callback_description(code: int) -> str:
    return CALLBACK_DESCRIPTIONS.get(code, f"The transaction failed with result code {code}.")


def query_description(code: int) -> str:
    return _QUERY_WORDING.get(code, callback_description(code))
