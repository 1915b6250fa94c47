"""Where the controller reaches an instance (foundation.instance_endpoints): through a port forward over its host's SSH
connection, against a real sshd on loopback and a real HTTP server behind it; the host is an alias only the ssh_config
resolves (as an AWS instance id resolves nowhere). sshd's own log shows it opened each connection to the instance."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from foundation.environment import Environment, parse_environment
from foundation.fleet import Fleet
from foundation.instance_endpoints import InstanceEndpoints
from foundation.transport import ForwardRefused, HostUnreachable
from tests.support import sshd
from tests.support.processes import free_port
from tests.support.sshd import Sshd

RELEASE = "20250101000000-v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    running = sshd.start(tmp_path_factory.mktemp("sshd"), LogLevel="DEBUG1")  # DEBUG1: each forwarded connection
    yield running
    running.stop()


class _Instance(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers = {"/api/health": {"status": "ok"}, "/api/version": {"release_id": RELEASE}}
        body = json.dumps(answers.get(self.path, {})).encode()
        self.send_response(200 if self.path in answers else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def instance() -> Iterator[int]:
    """An instance on the host's loopback (the host is this machine, as sshd is), its port."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Instance)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield http.server_address[1]
    http.shutdown()
    http.server_close()


def environment(config: Path, *ports: int) -> Environment:
    return parse_environment(
        {
            "name": "vpc",
            "transport": "ssh",
            "service_manager": "systemd",
            "root": "/srv/golive",
            "hosts": {"web": ["target"]},
            "instances": [{"name": f"app{i}", "port": port} for i, port in enumerate(ports)],
            "entry_url": "https://balancer.invalid",
            "ssh_config": str(config),
        }
    )


def forwarded_to(server: Sshd, port: int) -> int:
    """How many connections sshd opened to `port` on its loopback for a client's direct-tcpip channel."""
    return (server.folder / "sshd.log").read_text().count(f"target 127.0.0.1 port {port}")


def test_an_instance_is_reached_through_its_hosts_ssh_connection(server: Sshd, instance: int, tmp_path: Path) -> None:
    with InstanceEndpoints(environment(server.client_config(tmp_path), instance)) as endpoints:
        before = forwarded_to(server, instance)
        url = endpoints.url("target", instance)
        assert urlsplit(url).hostname == "127.0.0.1" and urlsplit(url).port != instance  # not the instance's own
        assert httpx.get(f"{url}/api/health", timeout=5).json() == {"status": "ok"}
        assert forwarded_to(server, instance) > before, "sshd opened the connection to the instance"
        assert endpoints.url("target", instance) == url, "one forward per instance, reused"
        assert endpoints.named() == {f"target:{instance}": url}


def test_the_fleets_connection_carries_the_forwards(server: Sshd, instance: int, tmp_path: Path) -> None:
    fleet = Fleet.of(environment(server.client_config(tmp_path), instance))
    fleet.transports["target"].run("true")
    logins = server_logins(server)
    with fleet.endpoints:
        assert fleet.wait_healthy("target", instance, RELEASE, timeout=10) >= 0
        assert fleet.not_serving(RELEASE) == []
        assert fleet.not_serving("another-release") == [f"target:{instance}"]
    assert server_logins(server) == logins, "no second SSH login for the forward"


def server_logins(server: Sshd) -> int:
    return (server.folder / "sshd.log").read_text().count("Accepted publickey")


def test_close_stops_the_listener_and_a_later_use_opens_anew(server: Sshd, instance: int, tmp_path: Path) -> None:
    endpoints = InstanceEndpoints(environment(server.client_config(tmp_path), instance))
    first = endpoints.url("target", instance)
    endpoints.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", urlsplit(first).port), timeout=5).close()
    with endpoints:
        assert httpx.get(f"{endpoints.url('target', instance)}/api/version", timeout=5).json()["release_id"] == RELEASE


def test_an_instance_not_listening_yet_is_a_failed_request_not_a_refusal(server: Sshd, tmp_path: Path) -> None:
    """As an instance that is restarting: whoever waits for it asks again."""
    silent = free_port()
    with InstanceEndpoints(environment(server.client_config(tmp_path), silent)) as endpoints:
        url = endpoints.url("target", silent)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/api/health", timeout=5)


def test_forwarding_the_host_refuses_names_the_host_and_port(instance: int, tmp_path: Path) -> None:
    strict = sshd.start(tmp_path / "sshd", AllowTcpForwarding="no")
    try:
        with (
            InstanceEndpoints(environment(strict.client_config(tmp_path / "client"), instance)) as endpoints,
            pytest.raises(ForwardRefused) as refused,
        ):
            endpoints.url("target", instance)
    finally:
        strict.stop()
    message = str(refused.value)
    assert message.startswith(f"target: port {instance} on its loopback, through SSH: the host's sshd refused")
    assert "AllowTcpForwarding" in message and "\n" not in message


def test_an_unreachable_host_names_the_host_and_port(server: Sshd, instance: int, tmp_path: Path) -> None:
    config = server.client_config(tmp_path, port=free_port())  # nothing listens there
    with InstanceEndpoints(environment(config, instance)) as endpoints, pytest.raises(HostUnreachable) as failed:
        endpoints.url("target", instance)
    assert str(failed.value).startswith("target: cannot connect to 127.0.0.1:")
    assert str(failed.value).endswith(f"(to reach its port {instance})")


def test_the_local_environment_is_reached_on_its_own_loopback_without_ssh() -> None:
    local = parse_environment(
        {
            "name": "here",
            "transport": "local",
            "service_manager": "supervisord",
            "root": "state/here",
            "hosts": {"web": ["a", "b"]},
            "instances": [{"name": "one", "port": 8000}, {"name": "two", "port": 8001}],
            "entry_url": "http://127.0.0.1:8000",
        }
    )
    endpoints = InstanceEndpoints(local)
    assert endpoints.named() == {
        "a:8000": "http://127.0.0.1:8000",
        "a:8001": "http://127.0.0.1:8001",
        "b:8000": "http://127.0.0.1:8000",
        "b:8001": "http://127.0.0.1:8001",
    }
    assert endpoints.urls() == list(endpoints.named().values())
