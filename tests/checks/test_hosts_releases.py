"""Host and release-layout checks over the local transport (real commands, a real release layout of
symlinks and folders), and DNS."""

from __future__ import annotations

import shutil
import socket

import pytest

from checks import dns, hosts, http, releases
from checks.model import Status
from tests.support.processes import free_port


def _layout(root, current: str | None, previous: str | None, kept: tuple[str, ...]) -> None:
    for old in (root / "releases").glob("*") if (root / "releases").is_dir() else ():
        if old.name not in kept:
            shutil.rmtree(old)
    for name in kept:
        (root / "releases" / name).mkdir(parents=True, exist_ok=True)
    for link, target in (("current", current), ("previous", previous)):
        path = root / link
        if path.is_symlink():
            path.unlink()
        if target:
            path.symlink_to(root / "releases" / target)


def test_hosts_provisioned_memory_and_cpu(make_context):
    ctx = make_context()
    assert hosts.provisioned(ctx, {}).status == Status.PASS
    assert hosts.memory(ctx, {}).status == Status.PASS
    assert hosts.memory(make_context(checks={"min_memory_available": 1.01}), {}).status == Status.FAIL
    assert hosts.cpu(make_context(checks={"max_load_per_cpu": 10_000}), {}).status == Status.PASS
    assert hosts.cpu(make_context(checks={"max_load_per_cpu": -1}), {}).status == Status.FAIL


def test_a_host_without_the_release_root_is_not_provisioned(make_context):
    ctx = make_context()
    ctx.env.root.rmdir()
    result = hosts.provisioned(ctx, {})
    assert result.status == Status.FAIL and "localhost (web)" in result.detail


def test_every_host_switched_to_the_release_and_a_previous_one_kept(make_context):
    ctx = make_context(record={"release_id": "r2"})
    _layout(ctx.env.root, "r2", "r1", ("r1", "r2"))
    assert releases.deployed(ctx, {}).status == Status.PASS
    assert releases.rollback_ready(ctx, {}).status == Status.PASS
    assert releases.kept(ctx, {}).value == 2
    _layout(ctx.env.root, "r1", None, ("r1",))
    result = releases.deployed(ctx, {})
    assert result.status == Status.FAIL and "current -> r1 (release r2)" in result.detail
    assert releases.rollback_ready(ctx, {}).status == Status.FAIL
    assert releases.kept(ctx, {}).status == Status.FAIL


def test_the_balancer_must_answer_where_there_is_one(make_context, service):
    port = int(service.url.rsplit(":", 1)[1])
    assert http.balancer_answers(make_context(), {}).status == Status.NOT_APPLICABLE
    ctx = make_context(entry_url=service.url, ports=(port,), load_balancer="nginx")
    assert http.balancer_answers(ctx, {}).status == Status.PASS
    dead = make_context(entry_url=f"http://127.0.0.1:{free_port()}", load_balancer="nginx")
    assert http.balancer_answers(dead, {}).status == Status.FAIL


def test_dns(make_context):
    assert dns.resolves(make_context(entry_url="https://127.0.0.1"), {}).status == Status.NOT_APPLICABLE
    missing = dns.resolves(make_context(entry_url="https://pay.golive.invalid"), {})
    assert missing.status == Status.FAIL and "does not resolve" in missing.detail
    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, 443)
    except socket.gaierror:
        pytest.skip(f"this machine's own name {name} does not resolve")
    assert dns.resolves(make_context(entry_url=f"https://{name}"), {}).status == Status.PASS
