"""bench.cpu_by_test sums what `pytest --cpu-per-test` wrote, by module or by test, most CPU first."""

from __future__ import annotations

import json
import subprocess
import sys

from bench import cpu_by_test
from foundation.repository import REPO_ROOT


def test_a_real_run_is_recorded_and_summed_by_module(tmp_path):
    (tmp_path / "test_spin.py").write_text(
        "def test_busy():\n    sum(i * i for i in range(2_000_000))\n\ndef test_idle():\n    pass\n"
    )
    record = tmp_path / "cpu.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.support.cpu_per_test",
         "--rootdir", str(tmp_path), "--cpu-per-test", str(record), str(tmp_path / "test_spin.py")],
        cwd=tmp_path, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    busy, idle = sorted(lines, key=lambda line: line["test"])
    assert busy["test"].endswith("test_busy") and busy["self"] > idle["self"]
    assert busy["worker"] == "main" and busy["began"] <= idle["began"]  # in turn: the idle test began as busy ended
    assert idle["began"] - busy["began"] < busy["wall"] + 0.05  # (both rounded to hundredths)
    rows = cpu_by_test.totals(lines, "module")
    assert list(rows) == ["test_spin.py"] and rows["test_spin.py"]["tests"] == 2


def test_the_summary_puts_the_costliest_first_and_refuses_an_unreadable_file(tmp_path, capsys):
    record = tmp_path / "cpu.jsonl"
    rows = [("a.py::x", 1.0, 0.5), ("b.py::y", 3.0, 2.0), ("a.py::z", 0.5, 0.0)]
    record.write_text(
        "".join(
            json.dumps({"test": t, "wall": 9, "self": s, "children": c, "worker": "gw0"}) + "\n" for t, s, c in rows
        )
    )
    assert cpu_by_test.main([str(record), "--by", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "3 tests: 7 CPU-s, 27 wall-s"
    assert out[2].endswith("b.py::y") and out[-1].endswith("a.py::z")
    assert cpu_by_test.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
