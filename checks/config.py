"""Every tunable of the checks, with its default, in one place. An environment overrides them in its
description (release/environments/<env>.yml) under `checks:`."""

from __future__ import annotations

from typing import Any

from checks.signoffs import parse_duration

DEFAULTS: dict[str, Any] = {
    # Test evidence, produced by `make test-report` (pytest --junitxml + pytest-cov's XML).
    "junit_report": "state/reports/junit.xml",
    "coverage_report": "state/reports/coverage.xml",
    "report_max_age_hours": 72,  # an older report is not evidence for this release
    "min_coverage": 0.80,
    # Service log files (globs; on a host of a remote environment, read over its transport);
    # default <root>/logs/web*.log for supervisord, journald (`journalctl -u golive-*`) for systemd.
    "service_logs": None,
    "log_lines": 20000,  # the newest lines scanned per log
    # TLS at the entry point (https entry_url): the name the certificate must cover (default: the URL's host),
    # a CA bundle to trust instead of the system's (the lab's own CA), days it must still be valid.
    "tls_name": None,
    "tls_ca_file": None,
    "tls_min_days": 14,
    "http_port": 80,  # where plain HTTP must answer with a redirect to HTTPS
    # The CORS origins that must be allowed (default: GOLIVE_CORS_ORIGINS of the settings file);
    # any other origin must be refused.
    "cors_origins": None,
    "cors_probe_origin": "https://not-allowed.invalid",
    # Rate limiting: a path limited like the API (the admin group by default, so payments are not starved) and how
    # long the check may keep asking before it says it could not outspend the allowance (checks/ratelimit.py; the
    # allowance itself is the service's settings).
    "rate_limit_path": "/api/admin/feature-flags",
    "rate_limit_max_seconds": 30,
    # Ports that must be closed (and open) from the controller, by host: {lb: {closed: [5432], open: [443]}}.
    "firewall": {},
    "port_timeout_seconds": 2.0,
    # Feature flags that must be in this state: {mpesa_payments: {enabled: true, percentage: 100}}.
    "expected_flags": {},
    # Seconds monitoring.targets_up waits for a target that is down to answer (one restarted by the release).
    "monitoring_settle_seconds": 20,
    "backup_max_age_hours": 26,
    "rpo_hours": 24,
    "rto_seconds": 300,  # the checklist's "Recovery time < 5 minutes"
    "rollback_max_age_days": 30,  # a rollback drill older than this is not evidence
    "response_time_requests": 20,
    "max_response_seconds": 2.0,
    "concurrent_requests": 20,
    "max_db_query_ms": 200.0,
    "min_memory_available": 0.10,  # share of MemTotal
    "max_load_per_cpu": 2.0,
    # Metrics against the success criteria (defaults: the checklist's).
    "max_error_rate": 0.01,
    "max_p95_seconds": 2.0,
    "min_payment_success": 0.95,
    "min_requests": 20,
    "min_payments": 5,
    "uptime_slack_seconds": 120,  # instances started this long after the release still count as "since it"
    # What the release does with results: ids or check names whose failure is only reported here,
    # and whether "could not check" on a required check stops the release (fail) or is reported (warn).
    "advisory": [],
    "unverified": "fail",
    # Whether a person's box still unsigned blocks (fail: before the switch the release is refused, after it the
    # release is held for the sign-offs, exit 3, until `fab promote`) or is listed (warn).
    "unsigned": "warn",
    # How long a sign-off counts unless `fab signoff --valid-for` says otherwise (30m, 24h, 7d).
    "signoff_valid_for": "24h",
}


def merged(overrides: dict[str, Any] | None) -> dict[str, Any]:
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown checks setting(s): {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    for key in ("unverified", "unsigned"):
        if overrides.get(key, "fail") not in ("fail", "warn"):
            raise ValueError(f"checks setting {key} must be fail or warn")
    if "signoff_valid_for" in overrides:
        try:
            parse_duration(overrides["signoff_valid_for"])
        except ValueError as exc:
            raise ValueError(f"checks setting signoff_valid_for: {exc}") from None
    return {**DEFAULTS, **overrides}
