"""The lab's lock: `fab lab.up` and `fab lab.down` hold it exclusively; whoever uses the lab (a converge,
a testinfra run) holds it shared, so the lab never changes under them."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from lab.errors import LabError

WAIT_SECONDS = 1800.0


@contextmanager
def held(path: Path, exclusive: bool, progress: Callable[[str], None], wait: float = WAIT_SECONDS) -> Iterator[None]:
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with path.open("a") as handle:
        with suppress(PermissionError):
            path.chmod(0o666)
        started = time.monotonic()
        deadline = started + wait
        announced = False
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    progress(f"waiting for the lab lock {path} (someone is using the lab: a converge, a test run)")
                    announced = True
                if time.monotonic() > deadline:
                    raise LabError(f"the lab lock {path} is still held after {wait:.0f} s (`fuser {path}`)") from None
                time.sleep(0.5)
        if announced:
            progress(f"lab lock acquired after waiting {time.monotonic() - started:.1f} s")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
