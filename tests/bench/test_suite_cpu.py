"""bench.suite_cpu: a command's CPU found in its own row, told from the machine's, and the command's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.suite_cpu import Sampler, fold
from foundation.repository import REPO_ROOT

# 2.5 CPU-seconds: sampled once a second, the row misses at most the CPU of the last one (no sample after exit)
BUSY = "import time\nend = time.process_time() + 2.5\nwhile time.process_time() < end: pass\nraise SystemExit(3)"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.suite_cpu", *argv],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_busy_child_is_counted_as_the_runs_and_its_exit_code_is_returned(tmp_path: Path):
    figures_file = tmp_path / "cpu.json"
    done = _run("--json", str(figures_file), "--", sys.executable, "-c", BUSY)
    assert done.returncode == 3, done.stderr
    figures = json.loads(figures_file.read_text())
    busy = [row for row in figures["top"] if row["process"].startswith("run: ") and "process_time" in row["process"]]
    assert busy and 1.5 <= busy[0]["self"] <= 5, figures["top"][:5]  # at most the last second is missed
    assert figures["cpu_seconds"]["run"] >= busy[0]["self"]
    others = [row for row in figures["top"] if not row["process"].startswith("run: ")]
    assert not any("process_time" in row["process"] and "bench.suite_cpu" not in row["process"] for row in others)
    assert "CPU seconds: {'run': " in done.stderr


def test_no_command_is_a_usage_error():
    done = _run("--top", "5")
    assert done.returncode == 2 and "no command" in done.stderr


def test_ports_pids_and_temporary_folders_fold_into_one_row():
    one = fold("/v/bin/python -m uvicorn --port 40123 --root /tmp/gl-abc123/env/x", venv="/v/bin/")
    other = fold("/v/bin/python -m uvicorn --port 51777 --root /tmp/gl-zz9/env/x", venv="/v/bin/")
    assert one == other == "python -m uvicorn --port N --root <tmp>/x"


def test_a_process_gone_before_it_is_read_is_a_row_not_an_error(tmp_path: Path):
    gone = tmp_path / "4242"  # a /proc entry whose process exited: every read fails
    gone.mkdir()
    assert Sampler(token="t")._row(gone) == "other: [gone]"
