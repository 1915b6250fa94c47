"""The embedded local environment: PostgreSQL from a wheel, the Daraja and chain simulators and the service
instances under supervisord (from PyPI), all under <root> (state/local), no root needed.

`up` is idempotent: it starts what is not running. The service instances start only once a release
exists (the release starts them); `down` stops everything and leaves no process behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from app.contract import embedded_postgres, load_settings
from foundation.environment import Environment

DATABASE = "golive"


@dataclass(frozen=True)
class LocalPaths:
    root: Path

    @property
    def pg(self) -> Path:
        return self.root / "pg"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def supervisor_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def database_url(paths: LocalPaths) -> str:
    """The environment's database, starting the embedded server if needed."""
    server = embedded_postgres.start(paths.pg, keep_running=True)
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server.replace("/postgres?", f"/{DATABASE}?", 1)


def _supervisord_conf(
    env: Environment, paths: LocalPaths, simulator_env: dict[str, str], chain_env: dict[str, str]
) -> str:
    repo = Path(__file__).resolve().parent.parent
    current = env.root / "current"
    sim_env = ",".join(f'{key}="{value}"' for key, value in simulator_env.items())
    chain_environment = ",".join(f'{key}="{value}"' for key, value in chain_env.items())
    lines = [
        "; written by `fab local.up`: do not edit (it is rewritten)",
        f"[unix_http_server]\nfile={paths.supervisor_socket}\nchmod=0700\n",
        f"[supervisord]\nlogfile={paths.logs}/supervisord.log\npidfile={paths.root}/supervisord.pid\n"
        f"directory={paths.root}\nnodaemon=false\n",
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        f"[supervisorctl]\nserverurl=unix://{paths.supervisor_socket}\n",
        f"[program:daraja]\ncommand={sys.executable} -m simulators.daraja --port {env.simulator_port} "
        "--callback-delay 0.5\n"
        f"directory={repo}\nenvironment={sim_env}\nautostart=true\nautorestart=true\n"
        f"stdout_logfile={paths.logs}/daraja.log\nredirect_stderr=true\n",
        # A block every second, so payouts gather their confirmations even when nothing else is sent.
        f"[program:chain]\ncommand={sys.executable} -m simulators.chain --port {env.chain_port} --block-time 1\n"
        f"directory={repo}\nenvironment={chain_environment}\nautostart=true\nautorestart=true\n"
        f"stdout_logfile={paths.logs}/chain.log\nredirect_stderr=true\n",
    ]
    for instance in env.instances:
        command = (
            f"cd {current} && set -a && . {paths.shared}/golive.env && . ./release.env && set +a && cd source && "
            f"exec ../venv/bin/python -m uvicorn --factory app.main:create_app --host 127.0.0.1 --port {instance.port} "
            "--no-access-log --no-proxy-headers"
        )
        lines.append(
            f"[program:{instance.name}]\ncommand=/bin/sh -c '{command}'\nautostart=false\nautorestart=true\n"
            f"startsecs=1\nstopwaitsecs=15\nstopasgroup=true\nkillasgroup=true\n"
            f"stdout_logfile={paths.logs}/{instance.name}.log\nredirect_stderr=true\n"
        )
    if env.worker:
        command = (
            f"cd {current} && set -a && . {paths.shared}/golive.env && . ./release.env && set +a && cd source && "
            "exec ../venv/bin/python -m app.worker"
        )
        lines.append(
            f"[program:worker]\ncommand=/bin/sh -c '{command}'\nautostart=false\nautorestart=true\n"
            f"startsecs=2\nstopwaitsecs=15\nstopasgroup=true\nkillasgroup=true\n"
            f"stdout_logfile={paths.logs}/worker.log\nredirect_stderr=true\n"
        )
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    """Written beside and renamed over (0600): a controller reading it meanwhile (two `fab` at once) never sees
    it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def supervisorctl(paths: LocalPaths, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(paths.supervisor_conf), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def supervisor_running(paths: LocalPaths) -> bool:
    if not paths.supervisor_socket.exists():
        return False
    return supervisorctl(paths, "pid", check=False).returncode == 0


def up(env: Environment, progress=print) -> str:
    """Start everything the local environment needs; returns the database URL."""
    paths = LocalPaths(env.root)
    paths.logs.mkdir(parents=True, exist_ok=True)
    progress(f"PostgreSQL (embedded) in {paths.pg}")
    db_url = database_url(paths)
    settings = load_settings(env="local", state_dir=paths.shared)
    key, secret = settings.daraja_consumer_key, settings.daraja_consumer_secret
    assert key is not None and secret is not None
    _write_private(
        paths.shared / "golive.env",
        "\n".join(
            [
                "GOLIVE_ENV=local",
                f"GOLIVE_STATE_DIR={paths.shared}",
                f"GOLIVE_DATABASE_URL={db_url}",
                f"GOLIVE_DARAJA_BASE_URL=http://127.0.0.1:{env.simulator_port}",
                f"GOLIVE_CHAIN_RPC_URL=http://127.0.0.1:{env.chain_port}",
                # Synthetic gate traffic comes from one address; the edge limit is not what a local release tests.
                "GOLIVE_RATE_LIMIT_PER_MINUTE=6000",
                "GOLIVE_RATE_LIMIT_BURST=600",
                f"GOLIVE_PUBLIC_BASE_URL={env.entry_url}",
            ]
        )
        + "\n",
    )
    simulator_env = {
        "GOLIVE_DARAJA_CONSUMER_KEY": key.get_secret_value(),
        "GOLIVE_DARAJA_CONSUMER_SECRET": secret.get_secret_value(),
    }
    treasury = settings.treasury_private_key
    assert treasury is not None
    # The chain simulator funds the treasury whose key the service holds (generated, in shared/secrets.json).
    chain_env = {"GOLIVE_TREASURY_PRIVATE_KEY": treasury.get_secret_value()}
    _write_private(paths.supervisor_conf, _supervisord_conf(env, paths, simulator_env, chain_env))
    if supervisor_running(paths):
        supervisorctl(paths, "update", check=False)
    else:
        progress("supervisord")
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.supervisor_conf)],
            check=True,
            timeout=30,
        )
    _wait(f"http://127.0.0.1:{env.simulator_port}/__sim__/health", "the Daraja simulator")
    _wait(f"http://127.0.0.1:{env.chain_port}/__chain__/health", "the chain simulator")
    if (env.root / "current").exists():
        for instance in env.instances:
            supervisorctl(paths, "start", instance.name, check=False)
        if env.worker:
            supervisorctl(paths, "start", "worker", check=False)
    return db_url


def down(env: Environment, progress=print) -> None:
    paths = LocalPaths(env.root)
    if supervisor_running(paths):
        progress("stopping supervisord and its programs")
        supervisorctl(paths, "shutdown", check=False)
        deadline = time.monotonic() + 30
        while paths.supervisor_socket.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    if (paths.pg / "postmaster.pid").exists():
        progress("stopping PostgreSQL")
        embedded_postgres.stop(paths.pg)


def is_up(env: Environment) -> bool:
    paths = LocalPaths(env.root)
    return supervisor_running(paths) and (paths.pg / "postmaster.pid").exists()


def _wait(url: str, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer on {url} within {seconds:.0f} s")
