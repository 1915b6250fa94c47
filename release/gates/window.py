"""The gates' observation window in time: wait it out (or run traffic through it), with a progress line now
and then. The window ends when both the time is up and the traffic has returned."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

TICK_SECONDS = 0.25


def run_window(
    window: float,
    traffic: Callable[[float], None] | None,
    on_progress: Callable[[float], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress_every: float = 5.0,
) -> float:
    """Runs `traffic(window)` in a thread (or just waits `window`), calling on_progress(elapsed) every
    `progress_every` seconds; returns the elapsed time. The traffic's exception is raised once it has stopped."""
    started = clock()
    load = _Background(traffic, window) if traffic else None
    next_line = started + progress_every
    while (now := clock()) < started + window or (load is not None and load.running()):
        if now >= next_line:
            on_progress(now - started)
            next_line = now + progress_every
        steps = [TICK_SECONDS, next_line - now]
        if now < started + window:
            steps.append(started + window - now)
        sleep(min(steps))
    if load:
        load.finish()
    return clock() - started


class _Background:
    """traffic(seconds) in a daemon thread; its exception is kept and raised by finish()."""

    def __init__(self, traffic: Callable[[float], None], seconds: float):
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(traffic, seconds), name="gate-traffic", daemon=True)
        self.thread.start()

    def _run(self, traffic: Callable[[float], None], seconds: float) -> None:
        try:
            traffic(seconds)
        except BaseException as exc:
            self.error = exc

    def running(self) -> bool:
        return self.thread.is_alive()

    def finish(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error
