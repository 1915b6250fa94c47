"""Steps that move web hosts between releases: out of the balancer, `current` switched, each instance and the worker
restarted and waited for, back into the balancer; a host's `previous` link; an old release pruned."""

from __future__ import annotations

import sys

from foundation import host_commands
from foundation.host_commands import q
from release.plan import Step
from release.run import Run, StepContext


def drain(engine: StepContext, step: Step, run: Run) -> None:
    assert step.host is not None
    engine.balancer().drain(step.host)
    run.drained.append(step.host)


def undrain(engine: StepContext, step: Step, run: Run) -> None:
    assert step.host is not None
    engine.balancer().undrain(step.host)
    run.drained = [host for host in run.drained if host != step.host]


def switch(engine: StepContext, step: Step, run: Run) -> None:
    assert step.host is not None and step.target is not None
    engine.transport(step).run(host_commands.switch(engine.fleet.layout, step.target))
    if step.target == run.plan.release_id and step.host not in run.switched:
        run.switched.append(step.host)


def restart(engine: StepContext, step: Step, run: Run) -> None:
    assert step.target is not None
    env = engine.env
    conf = str(env.root / "supervisord.conf") if env.service_manager == "supervisord" else None
    supervisorctl = f"{q(sys.executable)} -m supervisor.supervisorctl"
    command = host_commands.restart(
        engine.fleet.layout, env.service_manager, step.target, supervisorctl=supervisorctl, supervisor_conf=conf
    )
    engine.transport(step).run(command)


def health(engine: StepContext, step: Step, run: Run) -> None:
    assert step.host is not None
    port = next(instance.port for instance in engine.env.instances if instance.name == step.target)
    engine.fleet.wait_healthy(step.host, port, run.executing.release_id, engine.env.health_timeout_seconds)


def previous(engine: StepContext, step: Step, run: Run) -> None:
    engine.transport(step).run(host_commands.set_previous(engine.fleet.layout, step.target))


def prune(engine: StepContext, step: Step, run: Run) -> None:
    assert step.target is not None
    engine.transport(step).run(host_commands.prune(engine.fleet.layout, step.target))
