"""The runbooks' commands (docs/runbooks/*.md), extracted and checked against what exists.

Convention (docs/runbooks/README.md): a ```sh fence says where its commands run in its info string —
`controller` (the repository root, with .venv) or `host=NAME` (a lab/fleet host, as an admin with sudo). A
command is one logical line (backslash continuations joined); `&&`, `||`, `;`, `|` and `$(…)` split it into
segments, each checked on its own. A trailing `# safe-local` comment marks a controller command the tests run
against a released local environment. Inline code spans that start with `.venv/bin/` are controller commands
too (checked, never run).

Checks: the executable is known (an allowlist per location); a `fab` task exists in `fab --list` and every flag
is in `fab --help TASK`; `ansible-playbook`/`ansible-vault`/`python -m` flags and subcommands are in their
`--help`; other tools' flags are in their `--help` where the tool is on this machine, else in a static list;
playbooks and repository paths exist; `$URL/...` paths are routes of the service.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from foundation.repository import REPO_ROOT

RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RULES = REPO_ROOT / "roles" / "monitoring" / "files" / "rules" / "golive.rules.yml"
BIN = Path(sys.executable).parent
SAFE_LOCAL_VARIABLES = frozenset({"ENV", "URL", "KEY"})
REPO_DIRS = ("app/", "checks/", "docs/", "infra/", "lab/", "loadtests/", "playbooks/", "release/", "roles/", "tests/")


@dataclass(frozen=True)
class Tool:
    """How a tool's flags are checked: `help` is the command printing them when the tool is on this machine
    (None: only `flags`); `subcommands` (if any) must hold the first word after the tool; `single_dash`: options
    like openssl's `-noout` (one dash, whole words)."""

    help: tuple[str, ...] | None = ("--help",)
    flags: frozenset[str] = frozenset()
    subcommands: frozenset[str] = frozenset()
    single_dash: bool = False


def _tool(*, help: tuple[str, ...] | None = ("--help",), flags: str = "", subs: str = "", single: bool = False):
    return Tool(help, frozenset(flags.split()), frozenset(subs.split()), single)


COMMON = {
    "cat": _tool(),
    "cd": _tool(help=None),
    "curl": _tool(help=("--help", "all")),
    "export": _tool(help=None),
    "grep": _tool(),
    "jq": _tool(),
    "ls": _tool(),
    "openssl": _tool(
        help=None, flags="-in -noout -subject -enddate -fingerprint -base64", subs="rand x509", single=True
    ),
    "readlink": _tool(),
    "rm": _tool(),
    "tr": _tool(),
}
CONTROLLER_TOOLS = {
    **COMMON,
    "flock": _tool(),
    "psql": _tool(),
    "python3": _tool(help=None, flags="-c"),
    "ssh": _tool(help=None, flags="-F -L -N"),
    "scp": _tool(help=None, flags="-F"),
    # Not installed here; the flags infra/README.md uses.
    "pulumi": _tool(
        help=None, flags="--stack --secret --policy-pack --json --diff", subs="config up preview stack login"
    ),
}
HOST_TOOLS = {
    **COMMON,
    "df": _tool(),
    "journalctl": _tool(),
    "ln": _tool(),
    "mv": _tool(),
    "sh": _tool(help=None, flags="-c"),
    "systemctl": _tool(
        subs="status start stop restart try-restart reload reset-failed list-timers is-active enable disable"
    ),
    "uptime": _tool(),
    "nginx": _tool(help=None, flags="-t"),
    "golive-upstream": _tool(help=None, flags="--wait", subs="drain undrain status"),  # roles/nginx
    "/usr/local/sbin/golive-backup": _tool(
        help=None, subs="dump restore-test list release restore metric prove verify settings"
    ),
    "amtool": _tool(
        help=None,
        flags="--alertmanager.url --duration --comment --author --annotation",
        subs="alert silence check-config config",
    ),
}
VAULT_SUBCOMMANDS = frozenset({"create", "decrypt", "edit", "view", "encrypt", "encrypt_string", "rekey"})


@dataclass(frozen=True)
class Command:
    path: Path
    line: int
    where: str  # "controller" or "host=NAME"
    text: str  # the logical line without its trailing comment
    safe_local: bool = False
    inline: bool = False

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.text}"


@dataclass
class Report:
    commands: list[Command] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: int = 0


# --- extraction ------------------------------------------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>.*)$")
# Inline code that is a controller command: `.venv/bin/…`, `fab TASK …`, `ansible-playbook …` (prefixed with .venv/bin/
# for the check), optionally under the lab's lock (`flock -s /tmp/golive-lab.lock …`).
INLINE = re.compile(
    r"(?<!`)`((?:flock -s \S+ )?(?:\.venv/bin/)?(?:fab|ansible-playbook|ansible-vault|python) [^`]+)`(?!`)"
)


def extract(path: Path, text: str | None = None) -> tuple[list[Command], list[str]]:
    """Every command of a runbook, and the problems of its fences (an sh fence without a location)."""
    text = path.read_text() if text is None else text
    commands: list[Command] = []
    problems: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if not opened:
            for match in INLINE.finditer(lines[index]):
                text = re.sub(
                    r"(^|\s)(fab|ansible-playbook|ansible-vault|python) ", r"\1.venv/bin/\2 ", match.group(1), count=1
                )
                commands.append(Command(path, index + 1, "controller", text.strip(), inline=True))
            index += 1
            continue
        info = opened.group("info").split()
        start, body = index + 1, []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(opened.group("fence")):
            body.append(lines[index])
            index += 1
        index += 1
        if not info or info[0] not in ("sh", "bash", "shell", "console"):
            continue
        where = [word for word in info[1:] if word == "controller" or word.startswith("host=")]
        if len(where) != 1 or where[0] == "host=":
            problems.append(f"{path.name}:{start}: an sh fence must say where it runs (`controller` or `host=NAME`)")
            continue
        indent = len(opened.group("indent"))
        commands.extend(_logical_lines(path, start, [line[indent:] for line in body], where[0]))
    return commands, problems


def _logical_lines(path: Path, start: int, body: list[str], where: str) -> Iterator[Command]:
    pending, first = "", start
    for offset, raw in enumerate(body):
        if not pending:
            first = start + offset + 1
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical, pending = pending + line, ""
        code, comment = split_comment(logical)
        if code.strip():
            safe = "safe-local" in comment.split()
            yield Command(path, first, where, " ".join(code.split()), safe_local=safe)


def split_comment(line: str) -> tuple[str, str]:
    """(code, comment): the comment starts at a `#` beginning a word outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i], line[i + 1 :]
    return line, ""


def segments(text: str) -> list[str]:
    """The simple commands of a line: split at && || ; | outside quotes; each `$(…)` is a segment of its own
    (and stands as a placeholder word where it was)."""
    found: list[str] = []
    outer: list[str] = []
    current: list[str] = []
    quote = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote != "'" and text.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            found.extend(segments(text[i + 2 : j - 1]))
            current.append("SUBSTITUTED")
            i = j
            continue
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in ";|&":
            if char == "&" and not text.startswith("&&", i):
                current.append(char)  # 2>&1 and the like
                i += 1
                continue
            outer.append("".join(current))
            current = []
            i += 2 if text.startswith(("&&", "||"), i) else 1
            continue
        current.append(char)
        i += 1
    outer.append("".join(current))
    return [part.strip() for part in outer if part.strip()] + found


def words(segment: str) -> list[str]:
    """The words of a simple command, without leading VAR=value assignments and wrappers (sudo, flock)."""
    tokens = shlex.split(segment)
    while True:
        before = len(tokens)
        while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
            tokens.pop(0)
        if tokens and tokens[0] == "sudo":
            tokens.pop(0)
            while tokens and tokens[0].startswith("-"):
                option = tokens.pop(0)
                if option in ("-u", "-g") and tokens:
                    tokens.pop(0)
        if tokens and tokens[0] == "flock":
            tokens.pop(0)
            while tokens and tokens[0].startswith("-"):
                tokens.pop(0)
            if tokens:
                tokens.pop(0)  # the lock file
        if len(tokens) == before:
            return tokens


def variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


# --- what exists -------------------------------------------------------------------------------------------------


class Probe:
    """What this repository and this machine offer (cached): fab's tasks and flags, tools' help texts, routes."""

    def __init__(self, root: Path = REPO_ROOT):
        self.root = root

    def environ(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("GOLIVE_")}
        env["PYTHONPATH"] = str(self.root)
        env["COLUMNS"] = "200"
        return env

    @functools.cache  # noqa: B019 (one Probe per test session)
    def run(self, *argv: str) -> str:
        try:
            done = subprocess.run(
                argv, cwd=self.root, env=self.environ(), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"<could not run {argv[0]}: {exc}>"
        return done.stdout + done.stderr

    @functools.cached_property
    def _fab_help(self) -> dict[str, str]:
        """`fab --list` and every task's `fab --help TASK` (tests/docs/fab_help.py), or why they could not be had."""
        output = self.run(sys.executable, "-m", "tests.docs.fab_help")
        try:
            return json.loads(output)
        except json.JSONDecodeError:
            return {"--list": f"<fab --list and --help could not be read: {output.strip()[-500:]}>"}

    @functools.cached_property
    def fab_tasks(self) -> frozenset[str]:
        return frozenset(self._fab_help) - {"--list"}

    @property
    def fab_listing(self) -> str:
        return self._fab_help["--list"]

    def fab_flags(self, task: str) -> str:
        return self._fab_help[task]

    def help_text(self, argv: tuple[str, ...]) -> str | None:
        executable = argv[0]
        if "/" not in executable and shutil.which(executable) is None:
            return None
        return self.run(*argv)

    @functools.cached_property
    def routes(self) -> list[re.Pattern[str]]:
        patterns = []
        for source in sorted((self.root / "app" / "api").glob("*.py")):
            for path in re.findall(r"@router\.(?:get|post|put|delete|patch)\(\s*\"([^\"]+)\"", source.read_text()):
                patterns.append(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
        return patterns


# --- checking ---------------------------------------------------------------------------------------------------


def check(command: Command, probe: Probe) -> list[str]:
    """The problems of one command (an empty list when it is fine)."""
    problems: list[str] = []
    syntax = subprocess.run(["bash", "-n", "-c", command.text], capture_output=True, text=True, check=False)
    if syntax.returncode != 0:
        problems.append(f"not valid shell: {syntax.stderr.strip()}")
    try:
        parts = segments(command.text)
        for segment in parts:
            problems += _check_segment(words(segment), command, probe)
    except ValueError as exc:  # shlex: unbalanced quotes
        problems.append(f"cannot be parsed: {exc}")
    if command.safe_local:
        if command.where != "controller":
            problems.append("safe-local is for controller commands only")
        unknown = variables(command.text) - SAFE_LOCAL_VARIABLES
        if unknown:
            problems.append(f"safe-local uses variables the tests cannot set: {', '.join(sorted(unknown))}")
    return problems


def _check_segment(tokens: list[str], command: Command, probe: Probe) -> list[str]:
    if not tokens:
        return []
    executable, args = tokens[0], tokens[1:]
    on_controller = command.where == "controller"
    problems = _check_paths(args, probe) + _check_urls(args, command, probe)
    if on_controller and executable == ".venv/bin/fab":
        return problems + _check_fab(args, probe)
    if on_controller and executable == ".venv/bin/ansible-playbook":
        return problems + _check_playbook(args, probe)
    if on_controller and executable == ".venv/bin/ansible-vault":
        return problems + _check_vault(args, probe)
    if on_controller and executable == ".venv/bin/python":
        return problems + _check_python(args, probe)
    if executable.startswith(".venv/bin/"):
        return [*problems, f"{executable}: not a tool the runbooks may use on the controller"]
    tools = CONTROLLER_TOOLS if on_controller else HOST_TOOLS
    tool = tools.get(executable)
    if tool is None:
        where = "the controller" if on_controller else "a host"
        return [*problems, f"{executable}: unknown tool on {where} (add it to the allowlist in {Path(__file__).name})"]
    return problems + _check_tool(executable, tool, args, probe)


def _flags(args: Iterable[str], *, single_dash: bool = False) -> list[str]:
    """Options as they would be looked up: --long (value cut), -x for each letter of a short cluster."""
    found = []
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--") and len(arg) > 2:
            found.append(arg.split("=", 1)[0])
        elif arg.startswith("-") and len(arg) > 1 and not arg[1].isdigit():
            found.extend([arg.split("=", 1)[0]] if single_dash else [f"-{letter}" for letter in arg[1:]])
    return found


def _in_help(flag: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def _positionals(args: list[str], takes_value: set[str]) -> list[str]:
    """Arguments that are not options nor option values (for options written `--opt VALUE` in `takes_value`)."""
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg.split("=", 1)[0] in takes_value and "=" not in arg
        else:
            found.append(arg)
    return found


def _check_fab(args: list[str], probe: Probe) -> list[str]:
    if not args:
        return ["fab without a task"]
    task, rest = args[0], args[1:]
    if task not in probe.fab_tasks:
        listing = ", ".join(sorted(probe.fab_tasks)) or probe.fab_listing  # the tasks, or why there are none
        return [f"fab {task}: no such task (fab --list: {listing})"]
    help_text = probe.fab_flags(task)
    return [
        f"fab {task} {flag}: no such flag (fab --help {task})" for flag in _flags(rest) if not _in_help(flag, help_text)
    ]


def _check_playbook(args: list[str], probe: Probe) -> list[str]:
    help_text = probe.run(str(BIN / "ansible-playbook"), "--help")
    problems = [f"ansible-playbook {flag}: no such flag" for flag in _flags(args) if not _in_help(flag, help_text)]
    playbooks = [arg for arg in _positionals(args, {"-i", "--inventory", "--tags", "-t", "--limit", "-l", "-e"})]
    if not playbooks:
        problems.append("ansible-playbook without a playbook")
    problems += [f"ansible-playbook: no playbook {name}" for name in playbooks if not (probe.root / name).is_file()]
    return problems


def _check_vault(args: list[str], probe: Probe) -> list[str]:
    if not args or args[0] not in VAULT_SUBCOMMANDS:
        return [f"ansible-vault {args[0] if args else ''}: no such subcommand ({', '.join(sorted(VAULT_SUBCOMMANDS))})"]
    help_text = probe.run(str(BIN / "ansible-vault"), args[0], "--help")
    return [
        f"ansible-vault {args[0]} {flag}: no such flag" for flag in _flags(args[1:]) if not _in_help(flag, help_text)
    ]


def _check_python(args: list[str], probe: Probe) -> list[str]:
    if len(args) < 2 or args[0] != "-m":
        return ["the runbooks run python only as `python -m MODULE`"]
    module, rest = args[1], args[2:]
    base = probe.root / Path(*module.split("."))
    if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
        return [f"python -m {module}: no such module in the repository"]
    python = str(BIN / "python")
    help_text = probe.run(python, "-m", module, "--help")
    choices = re.search(r"\{([\w,-]+)\}", help_text)
    positionals = _positionals(rest, set())
    if choices:
        names = choices.group(1).split(",")
        if not positionals or positionals[0] not in names:
            return [f"python -m {module} {positionals[0] if positionals else ''}: not one of {', '.join(names)}"]
        help_text = probe.run(python, "-m", module, positionals[0], "--help")
    return [f"python -m {module} {flag}: no such flag" for flag in _flags(rest) if not _in_help(flag, help_text)]


def _check_tool(executable: str, tool: Tool, args: list[str], probe: Probe) -> list[str]:
    problems = []
    if tool.subcommands:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        if first not in tool.subcommands:
            problems.append(f"{executable} {first or ''}: not one of {', '.join(sorted(tool.subcommands))}")
    flags = _flags(args, single_dash=tool.single_dash)
    help_text = probe.help_text((executable, *tool.help)) if tool.help else None
    for flag in flags:
        known = flag in tool.flags or (help_text is not None and _in_help(flag, help_text))
        if not known:
            source = f"{executable} {' '.join(tool.help)}" if help_text is not None else "the static list"
            problems.append(f"{executable} {flag}: no such flag ({source})")
    return problems


def _check_paths(args: list[str], probe: Probe) -> list[str]:
    problems = []
    for arg in args:
        path = arg.split("=", 1)[-1]
        repo_path = path.startswith(REPO_DIRS) and "$" not in path and "*" not in path
        if repo_path and not (probe.root / path).exists():
            problems.append(f"{path}: no such file in the repository")
    return problems


def _check_urls(args: list[str], command: Command, probe: Probe) -> list[str]:
    problems = []
    for arg in args:
        match = re.match(r"^(?:\$URL|\$\{URL\}|https?://127\.0\.0\.1:8000)(/[^?\s]*)", arg)
        if not match:
            continue
        path = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "X", match.group(1))
        if not any(route.match(path) for route in probe.routes):
            problems.append(f"{match.group(1)}: not a route of the service (app/api)")
    return problems


# --- the whole set -----------------------------------------------------------------------------------------------


def runbooks(folder: Path = RUNBOOKS) -> list[Path]:
    return sorted(folder.glob("*.md"))


def check_all(paths: Iterable[Path], probe: Probe | None = None) -> Report:
    probe = probe or Probe()
    report = Report()
    for path in paths:
        commands, problems = extract(path)
        report.commands += commands
        report.problems += problems
        for command in commands:
            report.checked += 1
            report.problems += [f"{command}\n    -> {problem}" for problem in check(command, probe)]
    return report


# --- alerts ------------------------------------------------------------------------------------------------------


def alert_names(rules: Path = RULES) -> tuple[list[str], str]:
    """The alert names of the rules file, in order, and the file they came from."""
    data = yaml.safe_load(rules.read_text()) or {}
    names = [rule["alert"] for group in data.get("groups", []) for rule in group.get("rules", []) if "alert" in rule]
    return names, str(rules.relative_to(REPO_ROOT))


def alert_sections(markdown: str) -> list[str]:
    return re.findall(r"^## (Golive\w*)\s*$", markdown, flags=re.MULTILINE)


# --- links -------------------------------------------------------------------------------------------------------


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercased, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def broken_links(path: Path) -> list[str]:
    """Relative links (and their #anchors) of a runbook that lead nowhere."""
    problems = []
    text = path.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target):
            continue
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{path.name}: link to {target}: no such file")
            continue
        if fragment and linked.suffix == ".md":
            anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)}
            if fragment not in anchors:
                problems.append(f"{path.name}: link to {target}: no such heading")
    return problems
