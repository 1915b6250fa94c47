"""Run wrk (closed loop: each connection sends its next request when the previous answer arrives) with
one of the scripts in bench/lua, and read the BENCH_RESULT line those scripts print when done."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARK = "BENCH_RESULT "
BAD_BODY_MARK = "BENCH_BAD_BODY "
# A request slower than this counts as a timeout (an error), not as a latency.
TIMEOUT_SECONDS = 5
INSTALL_HINT = "wrk is not installed: apt-get install wrk"


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    last_bad_status: int
    last_bad_body: str

    @property
    def valid(self) -> bool:
        """Every request answered 2xx, no connect/read/write error and no timeout."""
        return self.requests > 0 and self.non2xx == 0 and self.socket_errors == 0

    def problem(self) -> str:
        if self.requests == 0:
            return "no request completed"
        parts = []
        if self.non2xx:
            parts.append(f"{self.non2xx} non-2xx answers (last: HTTP {self.last_bad_status} {self.last_bad_body!r})")
        if self.socket_errors:
            parts.append(f"{self.socket_errors} socket errors or timeouts (> {TIMEOUT_SECONDS} s)")
        return "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_command(
    url: str, script: str, *, seconds: float, connections: int, threads: int, script_args: tuple[str, ...] = ()
) -> list[str]:
    threads = max(1, min(threads, connections))
    return [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={TIMEOUT_SECONDS}s",
        f"--script={LUA_DIR / script}",
        url,
        "--",
        *script_args,
    ]


def parse_output(text: str) -> WrkResult:
    raw: dict[str, float] | None = None
    bad_body = ""
    for line in text.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line.removeprefix(RESULT_MARK))
        elif line.startswith(BAD_BODY_MARK):
            bad_body = line.removeprefix(BAD_BODY_MARK).strip()
    if raw is None:
        raise WrkError(f"wrk printed no {RESULT_MARK.strip()} line:\n{text[-2000:]}")
    seconds = raw["duration_us"] / 1e6
    # wrk counts answers >= 400 as status errors; the script counts every non-2xx: keep the larger.
    non2xx = int(max(raw["non2xx"], raw["status_errors"]))
    return WrkResult(
        requests=int(raw["requests"]),
        seconds=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        mean_ms=round(raw["mean_us"] / 1000, 2),
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p90_ms=round(raw["p90_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        non2xx=non2xx,
        socket_errors=int(raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]),
        last_bad_status=int(raw["last_bad_status"]),
        last_bad_body=bad_body,
    )


def pace_for(rate: float, connections: int) -> float:
    """A first guess of the mean wait (ms) between an answer and a connection's next request for `rate`
    requests/s in all: each connection's cycle (wait + latency) must last connections / rate."""
    return connections / rate * 1000


def corrected_pace(pace_ms: float, rate: float, reached: WrkResult, connections: int) -> float:
    """The pace that makes up the difference between the cycle a paced run had and the cycle `rate`
    needs; never negative (then the server cannot keep up and runs saturated). Each connection sends its
    first request at once, not after a pause: that burst (half a cycle per connection, on average) is
    taken out of the rate reached, or short runs would overstate it."""
    steady = (reached.requests - connections / 2) / reached.seconds if reached.seconds else 0.0
    if steady <= 0:
        return pace_ms
    return max(0.0, pace_ms + (connections / rate - connections / steady) * 1000)


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    threads: int,
    script_args: tuple[str, ...] = (),
    pace_ms: float = 0.0,
) -> WrkResult:
    """Closed loop as fast as answers come, or with pace_ms > 0 a mean pause of that long between an
    answer and the connection's next request (see lua/common.lua)."""
    command = wrk_command(
        url, script, seconds=seconds, connections=connections, threads=threads, script_args=script_args
    )
    env = {**os.environ, "BENCH_PACE_MS": f"{pace_ms:.3f}"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False, env=env)
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with code {completed.returncode}: {completed.stderr[-2000:]}")
    return parse_output(completed.stdout)
