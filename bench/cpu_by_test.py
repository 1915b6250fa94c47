"""Which tests the suite's CPU goes to, from a `pytest --cpu-per-test FILE` run (tests/support/cpu_per_test.py):

    .venv/bin/python -m bench.cpu_by_test FILE [--top 40] [--by test|module]

Prints the CPU seconds (the worker's own and its reaped children's) and wall seconds per test or per module,
most CPU first, and the totals."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def totals(lines: list[dict], by: str) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = defaultdict(lambda: {"cpu": 0.0, "wall": 0.0, "tests": 0})
    for line in lines:
        key = line["test"] if by == "test" else line["test"].split("::", 1)[0]
        row = rows[key]
        row["cpu"] += line["self"] + line["children"]
        row["wall"] += line["wall"]
        row["tests"] += 1
    return dict(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_by_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="what `pytest --cpu-per-test FILE` wrote")
    parser.add_argument("--top", type=int, default=40, help="rows to print (default 40)")
    parser.add_argument("--by", choices=("test", "module"), default="module", help="one row per test or module")
    args = parser.parse_args(argv)
    try:
        lines = [json.loads(text) for text in args.file.read_text().splitlines() if text.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    rows = totals(lines, args.by)
    cpu, wall = sum(r["cpu"] for r in rows.values()), sum(r["wall"] for r in rows.values())
    print(f"{len(lines)} tests: {cpu:.0f} CPU-s, {wall:.0f} wall-s")
    print(f"{'CPU s':>8} {'wall s':>8} {'tests':>5}  {args.by}")
    for key, row in sorted(rows.items(), key=lambda kv: -kv[1]["cpu"])[: args.top]:
        print(f"{row['cpu']:8.1f} {row['wall']:8.1f} {row['tests']:5d}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
