"""Unhandled errors to Sentry when GOLIVE_SENTRY_DSN is set, tagged with the environment and the release.

Each app (and the worker) owns its client and reports only through `ErrorTracker.capture`: no integration is
installed, so nothing is patched, no log line becomes a breadcrumb and no request (headers, body, client address)
is attached; `send_default_pii` is off and local variables are not collected. Every event then passes the log
redactor (registered secrets, phone numbers, sensitive keys) before it leaves the process; an event the redactor
cannot handle is dropped, never sent as it is. Without a DSN nothing is sent and nothing is started."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import sentry_sdk
from sentry_sdk.utils import event_from_exception

from app.observability.logging_json import redact_value
from app.settings import Settings

log = logging.getLogger("golive.errors")
FLUSH_SECONDS = 2.0


def scrub_event(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any] | None:
    """before_send: the event with secrets and phone numbers redacted as in the logs."""
    scrubbed = redact_value(event)
    return scrubbed if isinstance(scrubbed, dict) else None


class ErrorTracker:
    def __init__(self, client: sentry_sdk.Client | None = None):
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> ErrorTracker:
        if settings.sentry_dsn is None:
            return cls(None)
        with warnings.catch_warnings():
            # Newer 2.x SDKs deprecate send_default_pii for data_collection (both default to no PII); the
            # explicit False keeps every 2.x release honest about it.
            warnings.filterwarnings("ignore", "The send_default_pii option is deprecated", DeprecationWarning)
            client = sentry_sdk.Client(
                dsn=settings.sentry_dsn.get_secret_value(),
                environment=settings.env,
                release=settings.release_id,
                send_default_pii=False,
                include_local_variables=False,
                default_integrations=False,
                auto_enabling_integrations=False,
                integrations=[],
                max_breadcrumbs=0,
                before_send=scrub_event,
                shutdown_timeout=FLUSH_SECONDS,
            )
        return cls(client)

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def capture(self, error: BaseException, **tags: str) -> None:
        """Queue the error for Sentry (sent by the client's own thread); never raises."""
        if self.client is None:
            return
        try:
            event, hint = event_from_exception(
                error, client_options=self.client.options, mechanism={"type": "golive", "handled": False}
            )
            with sentry_sdk.new_scope() as scope:
                scope.set_client(self.client)
                for name, value in tags.items():
                    scope.set_tag(name, value)
                scope.capture_event(event, hint=hint)
        except Exception as exc:
            log.warning("the error could not be reported to Sentry", extra={"error": type(exc).__name__})

    def close(self) -> None:
        """Send what is queued (at most FLUSH_SECONDS), then stop the client's threads."""
        if self.client is not None:
            self.client.close(timeout=FLUSH_SECONDS)
