"""A mock resource monitor that keeps what the engine would see: every registration with its inputs,
the outputs the fake provider returned, its parent and its (property) dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks, rpc

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (Pulumi's secret marker, not a secret)
SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass
class Recorded:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    id: str  # the physical id the (fake) provider returned; "" for components
    inputs: dict[str, Any]  # as the engine sees them: secrets wrapped in Pulumi's secret signature
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return unwrap_secrets(self.inputs)


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, fake: mocks.Mocks):
        super().__init__(fake)
        self.recorded: dict[str, Recorded] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        urn = response.urn
        self.recorded[urn] = Recorded(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            id=response.id,
            inputs=rpc.deserialize_properties(request.object),
            outputs=dict(self.resources[urn].state),
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items() if v.urns},
            ignore_changes=list(request.ignoreChanges),
        )
        return response


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    if is_secret(value):
        return unwrap_secrets(value["value"])
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def mask_secrets(value: Any) -> Any:
    if is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value
