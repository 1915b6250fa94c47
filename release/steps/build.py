"""Steps that build the artifact once and stage it on every web host: uploaded and checksummed, unpacked into
releases/<id>, its dependencies installed offline from its wheelhouse."""

from __future__ import annotations

from foundation import host_commands
from foundation.fleet import artifact_on_host
from release.build import artifact as artifacts
from release.plan import Step
from release.run import Run, StepContext


def artifact(engine: StepContext, step: Step, run: Run) -> None:
    built = artifacts.build(
        engine.repo,
        run.record.get("git_sha") if not run.record.get("dirty") else None,
        engine.state.artifacts,
        progress=engine.reporter.line,
    )
    engine.reporter.line(f"{built.path.name} sha256 {built.sha256[:16]}… ({built.size / 1e6:.1f} MB)")
    run.record["artifact"] = {"name": built.path.name, "sha256": built.sha256, "schema_head": built.schema_head}
    run.record["schema_head"] = built.schema_head
    run.artifact = built


def upload(engine: StepContext, step: Step, run: Run) -> None:
    built, transport = _built(run), engine.transport(step)
    remote = artifact_on_host(engine.env, built.path)
    transport.run(f"mkdir -p {host_commands.q(str(engine.env.root) + '/artifacts')}")
    transport.put(built.path, remote)
    transport.run(f"echo '{built.sha256}  {remote}' | sha256sum --check --quiet")


def unpack(engine: StepContext, step: Step, run: Run) -> None:
    remote = artifact_on_host(engine.env, _built(run).path)
    engine.transport(step).run(host_commands.unpack(engine.fleet.layout, run.plan.release_id, remote))


def install(engine: StepContext, step: Step, run: Run) -> None:
    release_id = run.plan.release_id
    release_env = {"GOLIVE_RELEASE_ID": release_id, "GOLIVE_GIT_SHA": str(run.record["git_sha"])}
    command = host_commands.install(engine.fleet.layout, release_id, _built(run).requirements_hash, release_env)
    engine.transport(step).run(command, timeout=900)


def _built(run: Run) -> artifacts.Artifact:
    if run.artifact is None:
        raise RuntimeError("no artifact: the plan stages before it builds")
    return run.artifact
