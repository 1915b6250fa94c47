"""Running the machine's commands: failures become LabErrors that say what was being done."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError


def run(command: Sequence[str], what: str, *, log: Path | None = None, timeout: float | None = None) -> str:
    """Runs a command and returns its stdout; output goes to `log` instead when given."""
    try:
        if log is not None:
            with log.open("a") as sink:
                sink.write(f"$ {' '.join(command)}\n")
                sink.flush()
                completed = subprocess.run(
                    command, stdout=sink, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
                )
            output = ""
        else:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
            output = completed.stdout
    except subprocess.TimeoutExpired:
        raise LabError(f"{what}: `{' '.join(command)}` did not finish within {timeout:.0f} s") from None
    except FileNotFoundError:
        raise LabError(f"{what}: {command[0]} is not installed") from None
    if completed.returncode != 0:
        detail = tail(log) if log is not None else (completed.stderr or completed.stdout).strip()
        raise LabError(f"{what}: `{' '.join(command)}` exited {completed.returncode}\n{detail}")
    return output


def succeeds(command: Sequence[str], timeout: float | None = None) -> bool:
    try:
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return completed.returncode == 0


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"  | {line}" for line in text)
