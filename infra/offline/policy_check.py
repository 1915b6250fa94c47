"""Runs the policy pack over a recorded resource graph the way the engine's analyzer would: resource
policies see each resource's inputs, stack policies see every resource with its parent and (property)
dependencies. A property the analyzer would not know yet is skipped there as it is here."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from infra.offline.recorder import Recorded
from infra.policies.pack import POLICIES


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None

    def __str__(self) -> str:
        where = self.urn.split("::")[-1] if self.urn else "stack"
        return f"[{self.policy}] {where}: {self.message}"


def _options(resource: Recorded) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def resource_args(resource: Recorded) -> ResourceValidationArgs:
    props = unknown_checking_proxy(deserialize_properties(resource.inputs))
    return ResourceValidationArgs(resource.type, props, resource.urn, resource.name, _options(resource), None)


def stack_args(resources: list[Recorded]) -> StackValidationArgs:
    custom = [r for r in resources if r.custom]
    nodes = {
        r.urn: PolicyResource(r.type, deserialize_properties(r.outputs), r.urn, r.name, _options(r), None, None, [], {})
        for r in custom
    }
    for r in custom:
        node = nodes[r.urn]
        node.parent = nodes.get(r.parent)
        node.dependencies = [nodes[u] for u in r.dependencies if u in nodes]
        node.property_dependencies = {
            prop: [nodes[u] for u in urns if u in nodes] for prop, urns in r.property_dependencies.items()
        }
    return StackValidationArgs(list(nodes.values()))


def check(resources: list[Recorded], policies=POLICIES) -> list[Violation]:
    violations: list[Violation] = []
    for policy in policies:
        if isinstance(policy, ResourceValidationPolicy):
            for resource in (r for r in resources if r.custom):

                def report(message: str, urn: str | None = None, _urn=resource.urn, _name=policy.name) -> None:
                    violations.append(Violation(_name, message, urn or _urn))

                try:
                    policy.validate(resource_args(resource), report)
                except (UnknownValueError, _NotApplicableError):
                    continue
        elif isinstance(policy, StackValidationPolicy):

            def report_stack(message: str, urn: str | None = None, _name=policy.name) -> None:
                violations.append(Violation(_name, message, urn))

            policy.validate(stack_args(resources), report_stack)
    return violations
