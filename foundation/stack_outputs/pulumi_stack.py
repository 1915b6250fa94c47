"""The outputs of a Pulumi stack through the Automation API (`select_stack` on a LocalWorkspace over the
repository's Pulumi.yaml, then `stack.outputs()`): what `pulumi stack output --json` prints, checked against the
schema. Needs the Pulumi CLI and the `infra` extra; each missing piece is refused with what to install."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation.stack_outputs.schema import StackOutputsInvalid, checked

INSTALL_CLI = (
    "install the Pulumi CLI 3.x (https://www.pulumi.com/docs/install/) and `pulumi login` to the state backend"
)


def _select_stack(stack: str, work_dir: Path) -> Any:
    try:
        from pulumi import automation  # noqa: PLC0415 (the `infra` extra: only this command needs it)
    except ImportError:
        raise StackOutputsInvalid("the Pulumi SDK is not installed: .venv/bin/pip install -e '.[infra]'") from None
    try:
        return automation.select_stack(stack, work_dir=str(work_dir))
    except FileNotFoundError:
        raise StackOutputsInvalid(f"no Pulumi CLI (`pulumi` is not on PATH): {INSTALL_CLI}") from None
    except automation.StackNotFoundError:
        raise StackOutputsInvalid(
            f"Pulumi stack {stack!r} does not exist in the backend you are logged in to "
            f"(`pulumi stack ls`; create it as infra/README.md says, 'Once per stack')"
        ) from None
    except automation.CommandError as exc:
        raise StackOutputsInvalid(f"Pulumi stack {stack!r} cannot be selected: {_first_error(exc)}") from None


Select = Callable[[str, Path], Any]  # (stack name, work dir) -> an Automation API Stack (its outputs())


def fetch(stack: str, work_dir: Path, select: Select | None = None) -> dict[str, Any]:
    """The stack's outputs as plain values, checked. A secret output is refused (the file holds none: the program
    exports no secret, so one here is a mistake to fix in infra/, not to write to disk)."""
    try:
        values = (select or _select_stack)(stack, work_dir).outputs()
    except StackOutputsInvalid:
        raise
    except Exception as exc:  # the CLI's CommandError, or anything else the workspace raises
        raise StackOutputsInvalid(f"Pulumi stack {stack!r}: its outputs cannot be read: {_first_error(exc)}") from None
    secret = sorted(key for key, value in values.items() if value.secret)
    if secret:
        raise StackOutputsInvalid(
            f"Pulumi stack {stack!r} exports secret outputs ({', '.join(secret)}): the stack outputs file holds no "
            "secrets; stop exporting them (infra/outputs.py)"
        )
    if not values:
        raise StackOutputsInvalid(f"Pulumi stack {stack!r} has no outputs: run `pulumi up --stack {stack}` first")
    return checked({key: value.value for key, value in values.items()}, f"Pulumi stack {stack!r}")


def _first_error(exc: Exception) -> str:
    """The CLI's `error: …` line (a CommandError's text is `code: … stdout: … stderr: …`), else the first line."""
    lines = [line.strip().removeprefix("stderr:").strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    return (errors or lines or [type(exc).__name__])[0]
