"""Rich renderings of a plan and of a function's status, for the CLI."""

from __future__ import annotations

import base64
import binascii

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from slpack.deploy.state import parse_description
from slpack.deploy.status import SHOWN_VERSIONS, Status
from slpack.deploy.steps import Plan
from slpack.deployment import ALIAS


def plan_table(plan: Plan, title: str = "deploy") -> Table:
    """One row per step; steps with nothing to do are dimmed."""
    changes = len(plan.changes)
    summary = f"{changes} change{'s' if changes != 1 else ''}" if changes else "nothing to change"
    table = Table(
        title=f"{title} {plan.function_name} in {plan.region}: {summary}", title_justify="left"
    )
    for column in ("#", "resource", "name", "action", "detail"):
        table.add_column(column, overflow="fold")
    for i, step in enumerate(plan.steps, 1):
        style = "dim" if step.noop else None
        action = Text(step.action, style="dim" if step.noop else "bold yellow")
        table.add_row(
            str(i), step.resource, Text(step.name), action, Text(step.detail), style=style
        )
    return table


def status_report(status: Status) -> RenderableType:
    """The versions table (newest first) and a summary of the URL, ``$LATEST`` and the alarms."""
    state = status.state
    traffic = state.traffic
    primary = state.alias["FunctionVersion"] if state.alias else None
    table = Table(title=f"{state.name} in {status.region}", title_justify="left")
    for column in ("version", "model", "code sha256", "published", f"{ALIAS} traffic"):
        table.add_column(column, overflow="fold")
    for version in reversed(state.versions[-SHOWN_VERSIONS:]):
        number = version["Version"]
        model = parse_description(version.get("Description"))
        share = traffic.get(number)
        table.add_row(
            number,
            Text(
                f"{model['name']} {model['version']} (sha256 {model['sha']})"
                if model
                else (version.get("Description") or "-")
            ),
            _hex(version.get("CodeSha256", ""))[:12],
            str(version.get("LastModified", ""))[:19],
            Text(f"{share:.0%}" + (" (canary)" if number != primary else ""), style="bold green")
            if share
            else "",
        )
    latest = state.latest or {}
    lines = [
        f"url: {state.url['FunctionUrl']} (auth {state.url['AuthType']})"
        if state.url
        else "url: none",
        f"$LATEST: {latest.get('State', '?')}, last update {latest.get('LastUpdateStatus', '?')}"
        + (
            f" ({reason})"
            if (reason := latest.get("StateReason") or latest.get("LastUpdateStatusReason"))
            else ""
        ),
        "alarms: "
        + (", ".join(f"{n} {s}" for s, n in sorted(status.alarm_counts().items())) or "none"),
    ]
    if len(state.versions) > SHOWN_VERSIONS:
        lines.insert(0, f"({len(state.versions) - SHOWN_VERSIONS} older versions not shown)")
    alarms = Table(title="alarms", title_justify="left")
    for column in ("alarm", "state", "watches"):
        alarms.add_column(column, overflow="fold")
    for alarm in status.alarms:
        state_value = alarm["StateValue"]
        alarms.add_row(
            alarm["AlarmName"],
            Text(state_value, style="bold red" if state_value == "ALARM" else ""),
            status.watches(alarm),
        )
    return Group(
        table,
        *(Text(line, no_wrap=True, overflow="ignore") for line in lines),  # URLs stay whole
        *([alarms] if status.alarms else []),
    )


def _hex(code_sha256: str) -> str:
    """Lambda's base64 ``CodeSha256`` as the hex that ``sha256sum function.zip`` prints."""
    try:
        return base64.b64decode(code_sha256, validate=True).hex()
    except (binascii.Error, ValueError):
        return code_sha256
