"""`fab --list` and `fab --help TASK` for every task, from one process: python -m tests.docs.fab_help prints them as
JSON ({"--list": ..., TASK: ...}). One interpreter instead of one per task: fab's imports cost a second each."""

from __future__ import annotations

import contextlib
import io
import json

from fabric.main import program


def _output(*argv: str) -> str:
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured), contextlib.suppress(SystemExit):
        program.run(["fab", *argv], exit=False)
    return captured.getvalue()


def main() -> None:
    listing = _output("--list")
    tasks = [line.split()[0] for line in listing.splitlines()[1:] if line.startswith("  ") and line.strip()]
    print(json.dumps({"--list": listing} | {task: _output("--help", task) for task in tasks}))


if __name__ == "__main__":
    main()
