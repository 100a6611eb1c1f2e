"""``paperfs workflow list|check|runs``: the workflows of workflows.yml and their runs."""

from __future__ import annotations

import json
from typing import Any

import click

from paperfs.cli.app import cli, runtime_of


def _trigger_text(trigger: Any) -> str:
    if trigger.kind != "scheduled":
        return trigger.kind
    base = f"field {trigger.custom_field}" if trigger.custom_field else trigger.date_from
    days = trigger.offset.total_seconds() / 86400
    text = f"scheduled {days:+g}d from {base}"
    if trigger.recurring is not None:
        text += f", every {trigger.recurring.total_seconds() / 86400:g}d"
    return text


@cli.group()
def workflow() -> None:
    """Workflows (workflows.yml in the data root): list, check, runs."""


@workflow.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def list_workflows(ctx: click.Context, as_json: bool) -> None:
    """Each workflow: its triggers, actions and its last run."""
    from paperfs.workflows.definitions import load_workflows
    from paperfs.workflows.runs import RunLog

    root = runtime_of(ctx).root
    workflows = load_workflows(root.workflows_file)
    last = RunLog(root.workflow_log).last_runs()
    rows = [{"name": w.name, "enabled": w.enabled,
             "triggers": [_trigger_text(t) for t in w.triggers],
             "actions": [a.kind for a in w.actions], "last_run": last.get(w.name)}
            for w in workflows.workflows]
    if as_json:
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no workflows ({root.workflows_file} is missing or empty)")
    for row in rows:
        run = row["last_run"]
        ran = (f"last run {run['time']} ({run['trigger']}, document {run['document']}): "
               f"{run['outcome']}" if run else "never run")
        click.echo(f"{row['name']}{'' if row['enabled'] else ' (disabled)'}")
        click.echo(f"  when:    {'; '.join(row['triggers'])}")
        click.echo(f"  does:    {', '.join(row['actions'])}")
        click.echo(f"  {ran}")


@workflow.command("check")
@click.pass_context
def check_workflows(ctx: click.Context) -> None:
    """Validate workflows.yml; exit 2 with the file, line and problem if it is invalid."""
    from paperfs.workflows.definitions import load_workflows

    root = runtime_of(ctx).root
    workflows = load_workflows(root.workflows_file)  # WorkflowsError: one line, exit 2
    click.echo(f"{root.workflows_file}: {len(workflows)} workflow(s), valid")


@workflow.command("runs")
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True, help="How many of the latest runs.")
@click.pass_context
def workflow_runs(ctx: click.Context, name: str | None, limit: int) -> None:
    """The latest runs (of workflow NAME): time, trigger, document, outcome."""
    from paperfs.workflows.runs import RunLog

    entries = [e for e in RunLog(runtime_of(ctx).root.workflow_log).entries()
               if name is None or e.get("workflow") == name]
    for entry in entries[-limit:]:
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        click.echo(f"{entry['time']}  {entry['workflow']}  {entry['trigger']}  "
                   f"{entry['document']}  {entry['outcome']}{detail}")
    if not entries:
        click.echo("no runs recorded")
