"""Steps that judge the release once it serves: smoke tests through the entry point, the gates' window over the
service's metrics, the go-live load test."""

from __future__ import annotations

from release import smoke as smoke_tests
from release.gates import loadtest as loadtest_gate
from release.gates.watch import watch
from release.plan import Step
from release.run import GateFailed, GateHeld, Run, StepContext


def smoke(engine: StepContext, step: Step, run: Run) -> None:
    run.record["smoke"] = smoke_tests.run(engine.env, run.plan.release_id, engine.reporter)


def observe(engine: StepContext, step: Step, run: Run) -> None:
    observation, verdict = watch(engine.env, engine.reporter, engine.fleet.endpoints.urls())
    run.record.update(observation.record())
    run.record["gate_verdict"] = verdict
    if verdict == "fail":
        raise GateFailed("a gate failed: " + ", ".join(r.name for r in observation.results if r.verdict == "fail"))
    if verdict == "inconclusive":
        if engine.env.inconclusive == "hold":
            raise GateHeld("gates inconclusive (too few samples)")
        raise GateFailed("gates inconclusive and this environment's policy is to fail")


def loadtest(engine: StepContext, step: Step, run: Run) -> None:
    loadtest_gate.gate(engine.env, engine.db_url, engine.state, run.record, engine.reporter)
