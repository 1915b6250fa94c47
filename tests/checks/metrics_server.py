"""A real HTTP server on a loopback port answering /metrics with a given Prometheus exposition."""

from __future__ import annotations

import http.server
import threading

from tests.support.processes import free_port


def exposition(*, ok: int, errors: int, slow: int = 0, paid: int, failed: int, started: float = 0.0) -> str:
    """golive's metric names (app/metrics.py) with the given counts: `ok` fast 200s, `errors` 500s, `slow` 200s
    slower than 5 s; `paid`/`failed` payment transitions; process_start_time_seconds = started."""
    lines = ["# TYPE golive_http_request_duration_seconds histogram"]
    for status, count, seconds in (("200", ok, 0.05), ("500", errors, 0.05), ("201", slow, 7.0)):
        for le in ("0.1", "2.0", "5.0", "+Inf"):
            inside = count if le == "+Inf" or float(le) >= seconds else 0
            labels = f'route="/api/payments",method="POST",status="{status}",le="{le}"'
            lines.append(f"golive_http_request_duration_seconds_bucket{{{labels}}} {inside}")
        base = f'route="/api/payments",method="POST",status="{status}"'
        lines.append(f"golive_http_request_duration_seconds_count{{{base}}} {count}")
        lines.append(f"golive_http_request_duration_seconds_sum{{{base}}} {count * seconds}")
    lines += [
        "# TYPE golive_payment_transitions_total counter",
        f'golive_payment_transitions_total{{state="paid",result_code="0"}} {paid}',
        f'golive_payment_transitions_total{{state="failed",result_code="1"}} {failed}',
        "# TYPE golive_callbacks_total counter",
        f'golive_callbacks_total{{status="applied"}} {paid + failed}',
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {started}",
    ]
    return "\n".join(lines) + "\n"


class MetricsServer:
    def __init__(self, text: str):
        body = text.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
