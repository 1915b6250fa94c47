"""The gates judged from /metrics of every instance: scraped at the window's start and end, instance by
instance (a restart inside the window is seen), the difference judged with the environment's thresholds."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from foundation.metrics.gates import GateResult, GateScrapeError, Sample, Thresholds, evaluate, scrape_each, window_of
from release.gates.window import run_window


def observe(
    urls: Sequence[str],
    thresholds: Thresholds,
    *,
    traffic: Callable[[float], None] | None = None,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress_every: float = 5.0,
) -> tuple[Sample, list[GateResult]]:
    """Scrape every instance, run `traffic(window_seconds)` (in a thread) or just wait the window,
    scrape again and judge the difference. Every `progress_every` seconds `progress` gets a line.
    The window ends when both the time is up and the traffic has returned. An exception of the
    traffic is raised here once the traffic has stopped."""
    say = progress or (lambda _line: None)
    window = thresholds.window_seconds
    start = scrape_each(urls)
    elapsed = run_window(
        window,
        traffic,
        lambda so_far: say(_progress_line(urls, start, so_far, window)),
        clock=clock,
        sleep=sleep,
        progress_every=progress_every,
    )
    result = window_of(start, scrape_each(urls))
    say(f"gates: window of {elapsed:.0f} s: {_counts(result)}")
    return result, evaluate(result, thresholds)


def _counts(sample: Sample) -> str:
    return f"{sample.requests:g} requests, {sample.paid + sample.failed:g} payments settled"


def _progress_line(urls: Sequence[str], start: Mapping[str, Sample], elapsed: float, window: float) -> str:
    try:
        so_far = _counts(window_of(start, scrape_each(urls)))
    except GateScrapeError as exc:
        so_far = str(exc)
    return f"gates: {elapsed:.0f} s / {window:g} s, {so_far}"
