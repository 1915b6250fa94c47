"""`make run` (python -m app.local): a newcomer's one command brings up PostgreSQL, the simulator and
two service workers, a package can be bought, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from foundation.repository import REPO_ROOT
from tests.support.processes import answers, free_port, wait_until
from tests.support.service import WALLET

pytestmark = pytest.mark.slow


def test_local_run_buys_a_package_and_stops_cleanly(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    env["GOLIVE_STATE_DIR"] = str(tmp_path / "state")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.local", "--port", str(port), "--simulator-port", str(sim_port),
         "--callback-delay", "0.2"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or answers(f"{url}/api/health"), "the local service", 90)
        assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
        body = {"phone": "0708374100", "package_id": "usdt-10", "wallet_address": WALLET}
        started = httpx.post(f"{url}/api/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert started.status_code == 202, started.text

        def paid() -> bool:
            return httpx.get(f"{url}/api/payments/{started.json()['id']}").json()["state"] == "paid"

        wait_until(paid, "the payment to be paid", 15)
        key = (tmp_path / "state" / "admin-api-key").read_text().strip()
        flags = httpx.get(f"{url}/api/admin/feature-flags", headers={"x-api-key": key})
        assert flags.status_code == 200
        assert "golive_payment_transitions_total" in httpx.get(f"{url}/metrics").text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the service, simulator and worker with it
            raise
    assert process.returncode == 0, output
    assert "stopped." in output
    wait_until(lambda: not answers(f"{url}/api/health"), "the service to stop answering", 10)
    wait_until(
        lambda: not answers(f"http://127.0.0.1:{sim_port}/__sim__/health"), "the simulator to stop answering", 10
    )
    assert not (tmp_path / "state" / "pg" / "postmaster.pid").exists()
