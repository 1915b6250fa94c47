"""What the tooling (foundation/, release/, checks/, lab/, loadtests/) may know of the service's insides: the names
of its settings, which hold secrets and which staging/production must be given, the states that count as paid, how a
flag buckets a payer, how an admin key is made and stored, what the logs redact, and the embedded PostgreSQL of the
local environment. Everything else in app/ is the service's own business and reached over HTTP; import-linter
(pyproject.toml) holds the tooling to this.
"""

from app.admin.keys import hash_key, new_key
from app.flags.bucketing import Flag, allows
from app.local import embedded_postgres
from app.observability.logging_json import redact_text, register_secret
from app.payments.model import PAID_STATES
from app.settings import (
    GENERATED_SECRETS,
    SANDBOX_PASSKEY,
    STRICT_ENVIRONMENTS,
    STRICT_REQUIRED,
    Settings,
    load_settings,
)

__all__ = [
    "GENERATED_SECRETS",
    "PAID_STATES",
    "SANDBOX_PASSKEY",
    "STRICT_ENVIRONMENTS",
    "STRICT_REQUIRED",
    "Flag",
    "Settings",
    "allows",
    "embedded_postgres",
    "hash_key",
    "load_settings",
    "new_key",
    "redact_text",
    "register_secret",
]
