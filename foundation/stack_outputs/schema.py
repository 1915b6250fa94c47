"""The stack outputs' shape version: the Pulumi program stamps it (infra/outputs.py), the controller refuses a file
stamped with any other. Stdlib only: the program imports this too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 3  # bump when the shape changes (infra/README.md, "Stack outputs")


class StackOutputsInvalid(Exception):
    """Stack outputs this controller cannot use; the message names the file or stack and what is wrong."""


def checked(outputs: Any, source: str) -> dict[str, Any]:
    """`outputs` when they are a mapping stamped with SCHEMA_VERSION; else a refusal naming `source`."""
    if not isinstance(outputs, dict):
        raise StackOutputsInvalid(f"{source}: not a stack-outputs object (got {type(outputs).__name__})")
    if "schema_version" not in outputs:
        raise StackOutputsInvalid(
            f"{source}: no schema_version; this controller knows schema_version {SCHEMA_VERSION}. "
            "Write the file with `fab infra.outputs --env <env>` from a stack the current program has updated"
        )
    version = outputs["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise StackOutputsInvalid(
            f"{source}: schema_version {version!r}, but this controller knows schema_version {SCHEMA_VERSION}. "
            "Run `pulumi up` with this repository's program, then `fab infra.outputs --env <env>` "
            "(or use the release tooling of the program that wrote it)"
        )
    return outputs


def read(path: Path) -> dict[str, Any]:
    """The outputs in `path`, checked; a missing, unreadable or foreign file is refused with its path."""
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise StackOutputsInvalid(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise StackOutputsInvalid(f"{path}: not JSON ({exc})") from None
    return checked(raw, str(path))
