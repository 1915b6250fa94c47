"""Names shared by the runner (the controller's process, which must not import Locust: importing it
monkey-patches the process with gevent) and the Locust side (locustfile, scenarios, listener)."""

ADMIN_KEY_VARIABLE = "GOLIVE_LOADTEST_ADMIN_KEY"  # the admin user's x-api-key (environment only, never argv)
THRESHOLDS_VARIABLE = "GOLIVE_LOADTEST_THRESHOLDS"  # JSON, as written by the runner
RESULT_VARIABLE = "GOLIVE_LOADTEST_RESULT"  # where the listener writes the verdict (JSON)
MAX_REQUESTS_VARIABLE = "GOLIVE_LOADTEST_MAX_REQUESTS"  # the run stops after this many requests
ENV_VARIABLE = "GOLIVE_LOADTEST_ENV"  # without THRESHOLDS: loadtests/slo/<env>.yml over default.yml
PAYMENT_EVENT = "PAYMENT"  # request_type of the settled-payment entries (not HTTP: kept out of the latency SLO)
SETTLED = "settled"  # their name
