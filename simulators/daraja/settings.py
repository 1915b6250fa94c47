"""What the simulator is started with; fixed for the life of the process."""

from dataclasses import dataclass, field

SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SANDBOX_SHORTCODE = "174379"


@dataclass(frozen=True)
class Settings:
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    passkey: str = field(default=SANDBOX_PASSKEY, repr=False)
    shortcode: str = SANDBOX_SHORTCODE
    host: str = "127.0.0.1"
    port: int = 8100
    callback_delay: float = 0.5
    callback_source: str = "127.0.0.1"
    token_ttl: float = 3599
    require_https_callback: bool = False
    access_log: bool = False
