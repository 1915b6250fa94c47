"""The simulator's settings, from the command line."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    chain_id: int
    block_time: float  # 0: a block per transaction; > 0: a block every block_time seconds
    auto_mine: bool  # False: nothing is mined until POST /__chain__/mine
    treasury_key: bytes
    treasury_key_source: str
    treasury_native_wei: int
    treasury_usdt_units: int
    token_name: str
    token_symbol: str
    access_log: bool

    def __repr__(self) -> str:  # never show the key
        return f"Settings(host={self.host!r}, port={self.port}, chain_id={self.chain_id})"
