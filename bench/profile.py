"""Where the service's workers spend their CPU during a measurement: py-spy attached to the server and
its worker processes (--subprocesses), sampling only threads that hold the GIL (Python CPU, not
waiting), written as collapsed stacks and a flame graph, and summed up as the top functions.

py-spy slows the workers a little: figures measured while profiling are a little lower."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PYSPY_HINT = "py-spy is not installed: .venv/bin/pip install py-spy"
RATE = 200  # samples per second per process
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def py_spy_path() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def _frame(text: str) -> str:
    """'function (path/to/site-packages/pkg/file.py:12)' -> 'function (pkg/file.py)'."""
    found = _FRAME.match(text)
    if not found:
        return text
    path = re.sub(r"^.*?/site-packages/", "", found["file"])
    path = re.sub(r"^.*?/(app|bench|simulators)/", r"\1/", path)
    return f"{found['function']} ({path})"


def summarise(collapsed: str, top: int = 12) -> str:
    """The functions with the most samples on top of the stack (self) and anywhere in it (inclusive,
    the service's own code only), as shares of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            if "(app/" in frame:
                inclusive[frame] += samples
    if not total:
        return "    (no samples)"
    lines = [f"    {total} samples holding the GIL; top of the stack:"]
    lines += [f"      {count / total:6.1%}  {frame}" for frame, count in own.most_common(top)]
    lines.append("    the service's functions, including what they call:")
    lines += [f"      {count / total:6.1%}  {frame}" for frame, count in inclusive.most_common(top)]
    return "\n".join(lines)


class Profiler:
    """py-spy on one process tree for a fixed time; `finish` waits for it and returns the summary."""

    def __init__(self, directory: Path, name: str, pid: int, seconds: float):
        directory.mkdir(parents=True, exist_ok=True)
        self.raw = directory / f"{name}.txt"
        self.svg = directory / f"{name}.svg"
        executable = py_spy_path()
        if executable is None:
            raise RuntimeError(PYSPY_HINT)
        self._process = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--gil",
                "--nonblocking",
                "--rate",
                str(RATE),
                "--duration",
                str(max(1, round(seconds))),
                "--format",
                "raw",
                "--output",
                str(self.raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self) -> str:
        try:
            _, errors = self._process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, errors = self._process.communicate()
        if not self.raw.exists():
            return f"    py-spy wrote nothing: {errors.strip()[-500:]}"
        collapsed = self.raw.read_text()
        files = f"{self.raw} (collapsed stacks: speedscope.app opens them)"
        if _flame_graph(collapsed, self.svg):
            files += f", {self.svg}"
        return f"    {files}\n" + summarise(collapsed)


def _flame_graph(collapsed: str, svg: Path) -> bool:
    """A flame graph SVG, when flamegraph.pl is installed."""
    tool = shutil.which("flamegraph.pl") or shutil.which("flamegraph")
    if tool is None:
        return False
    with svg.open("w") as out:
        subprocess.run([tool], input=collapsed, stdout=out, text=True, check=False, timeout=60)
    return True
