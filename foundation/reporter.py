"""Live progress for people: every phase announces itself, every step says how long it took, and the
summary has the timings per phase (rich when attached to a terminal, plain lines otherwise)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class Reporter:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self.timings: dict[str, float] = {}
        self._started = time.monotonic()

    def title(self, text: str) -> None:
        self.console.print(f"[bold]{escape(text)}[/bold]")

    def line(self, text: str) -> None:
        self.console.print(f"    {text}", markup=False)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]==> {escape(name)}[/bold cyan]")
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - started

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.console.print(
                f"  [red]✗[/red] {escape(description)} ({time.monotonic() - started:.1f} s)", markup=True
            )
            raise
        self.console.print(f"  [green]✓[/green] {escape(description)} ({time.monotonic() - started:.1f} s)")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]! {escape(text)}[/yellow]")

    def error(self, text: str) -> None:
        self.console.print(f"[red]✗ {escape(text)}[/red]")

    def summary(self, outcome: str) -> None:
        table = Table(title=f"{outcome} in {self.total:.1f} s", title_justify="left")
        table.add_column("phase")
        table.add_column("seconds", justify="right")
        for name, seconds in self.timings.items():
            table.add_row(name, f"{seconds:.1f}")
        self.console.print(table)

    @property
    def total(self) -> float:
        return time.monotonic() - self._started
