"""A phase run as people and machines read it: a console table, a JSON report and a Markdown report
(state/checks/<env>/<time>-<phase>.{json,md}, and latest-<phase>.{json,md}), with the automated share."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from checks.catalogue import Share
from checks.model import Status
from checks.runner import Outcome, PhaseRun

STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.UNVERIFIED: "yellow",
    Status.NEEDS_SIGNOFF: "cyan",
    Status.SIGNED_OFF: "green",
    Status.NOT_APPLICABLE: "dim",
}


def verdict(run: PhaseRun) -> str:
    if run.blocking:
        return "fail"
    if run.with_status(Status.FAIL) or run.with_status(Status.UNVERIFIED):
        return "pass with warnings"
    return "pass"


def as_json(run: PhaseRun, share: Share, *, at: datetime, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "env": run.env,
        "phase": run.phase,
        "at": at.isoformat(timespec="seconds"),
        "verdict": verdict(run),
        "counts": run.counts(),
        "blocking": [o.item.id for o in run.blocking],
        "unverified_policy": run.unverified_policy,
        "automated_share": {
            "automated": share.automated,
            "machine_checkable": share.machine_checkable,
            "person_only": share.person,
            "not_applicable": share.not_applicable,
            "ratio": round(share.ratio, 4),
            "summary": share.describe(),
        },
        **(extra or {}),
        "results": [_row(outcome) for outcome in run.outcomes],
    }


def _row(outcome: Outcome) -> dict[str, Any]:
    item = outcome.item
    return {
        "id": item.id,
        "section": item.section,
        "text": item.text,
        "phase": item.phase,
        "kind": item.kind,
        "check": item.check,
        "signer": item.signoff,
        "required": outcome.required,
        "seconds": round(outcome.seconds, 3),
        **outcome.result.as_dict(),
    }


def required_label(kind: str, required: bool) -> str:
    if kind != "automated":
        return "person" if kind == "manual" else "-"
    return "yes" if required else "no"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Checks: {report['env']}, {report['phase']}",
        "",
        f"- at: {report['at']}",
        f"- verdict: **{report['verdict']}**"
        + (f" (blocking: {', '.join(report['blocking'])})" if report["blocking"] else ""),
        "- results: " + ", ".join(f"{count} {status}" for status, count in sorted(report["counts"].items())),
        f"- automated share of the whole checklist: {report['automated_share']['summary']}",
        "",
        "| id | status | required | box | evidence | command |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['id']} | {row['status']} | {required_label(row['kind'], row['required'])} | {_cell(row['text'])} "
            f"| {_cell(row['detail'])} | {_cell(row['command'])} |"
        )
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report["at"].replace(":", "").replace("-", "").split("+")[0]
    base = folder / f"{stamp}-{report['phase']}"
    json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
    json_text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    markdown = as_markdown(report)
    for path, text in ((json_path, json_text), (md_path, markdown)):
        path.write_text(text, encoding="utf-8")
    (folder / f"latest-{report['phase']}.json").write_text(json_text, encoding="utf-8")
    (folder / f"latest-{report['phase']}.md").write_text(markdown, encoding="utf-8")
    return json_path, md_path


def table(run: PhaseRun) -> Table:
    table = Table(title=f"{run.env}: {run.phase}", title_justify="left", show_lines=False)
    for column in ("id", "status", "req", "box", "evidence", "command"):
        table.add_column(column, overflow="fold")
    for outcome in run.outcomes:
        status = outcome.result.status
        row = [
            outcome.item.id,
            f"[{STYLE[status]}]{status}[/]",
            required_label(outcome.item.kind, outcome.required),
            outcome.item.text,
            outcome.result.detail,
            outcome.result.command,
        ]
        table.add_row(*row)
    return table


def print_run(console: Console, run: PhaseRun, share: Share, paths: tuple[Path, Path] | None) -> None:
    console.print(table(run))
    counts = ", ".join(f"{count} {status}" for status, count in sorted(run.counts().items()))
    console.print(f"{counts}; verdict: [bold]{verdict(run)}[/bold]")
    console.print(f"automated: {share.describe()}")
    if paths:
        console.print(f"reports: {paths[0]}  {paths[1]}")
