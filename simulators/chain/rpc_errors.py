"""JSON-RPC errors, coded as geth codes them."""

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth: every transaction-pool and state error ("nonce too low", "header not found", ...)
EXECUTION_REVERTED = 3  # geth: eth_call / eth_estimateGas reverted with revert data


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def server_error(message: str) -> RpcError:
    return RpcError(SERVER_ERROR, message)


def reverted(revert_data: bytes) -> RpcError:
    """What geth answers when a call or gas estimate reverts: code 3 and the raw revert data (e.g. an ABI-encoded
    Error(string) 0x08c379a0...) when there is any; a bare -32000 "execution reverted" when there is none."""
    if not revert_data:
        return RpcError(SERVER_ERROR, "execution reverted")
    reason = decode_revert_reason(revert_data)
    message = f"execution reverted: {reason}" if reason is not None else "execution reverted"
    return RpcError(EXECUTION_REVERTED, message, "0x" + revert_data.hex())


ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


def decode_revert_reason(revert_data: bytes) -> str | None:
    if revert_data[:4] != ERROR_SELECTOR or len(revert_data) < 4 + 64:
        return None
    body = revert_data[4:]
    offset = int.from_bytes(body[:32], "big")
    if offset + 32 > len(body):
        return None
    length = int.from_bytes(body[offset : offset + 32], "big")
    raw = body[offset + 32 : offset + 32 + length]
    if len(raw) != length:
        return None
    return raw.decode("utf-8", errors="replace")
