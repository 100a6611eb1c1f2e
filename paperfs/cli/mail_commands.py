"""``paperfs mail test|records|failed|retry``: the IMAP accounts and rules (docs/mail.md)."""

from __future__ import annotations

import json

import click

from paperfs.cli.app import cli, json_default, runtime_of


@cli.group()
def mail() -> None:
    """Mail accounts (paperfs.yml mail:) and rules (mail.yml): test, records, failed, retry."""


@mail.command("test")
@click.argument("account")
@click.option("--limit", default=20, show_default=True,
              help="Mails listed per rule at most.")
@click.pass_context
def test_account(ctx: click.Context, account: str, limit: int) -> None:
    """Log in to ACCOUNT and list what each rule would take now, changing nothing."""
    from paperfs.errors import UsageError
    from paperfs.mail.accounts import connect, describe
    from paperfs.mail.dry_run import preview
    from paperfs.mail.records import RECORDS_NAME, MailRecords
    from paperfs.mail.rules import RULES_NAME, load_rules

    runtime = runtime_of(ctx).initialised()
    accounts = {a.name: a for a in runtime.config.mail.accounts}
    if account not in accounts:
        raise UsageError(f"no mail account {account!r} in {runtime.config.source}; its "
                         f"accounts: {', '.join(accounts) or 'none (add mail.accounts)'}")
    chosen = accounts[account]
    rules = load_rules(runtime.root.root / RULES_NAME, accounts).of(account)
    box = connect(chosen)
    try:
        click.echo(f"{describe(chosen)}: logged in")
        if not rules:
            click.echo(f"  no rules for {account} in {runtime.root.root / RULES_NAME}")
        records = MailRecords(runtime.root.root / RECORDS_NAME)
        for result in preview(box, chosen, rules, records, limit=limit):
            rule = result.rule
            click.echo(f"rule {rule.name!r} ({rule.folder}; {rule.criteria()}; "
                       f"consume {rule.consume}; then {rule.describe_action()}):")
            if result.problem:
                click.echo(f"  ERROR: {result.problem}")
                continue
            click.echo(f"  {result.matched} match, {result.already} taken before, "
                       f"{result.matched - result.already} would be taken now")
            for mail in result.mails:
                click.echo(f"  - UID {mail.uid} {mail.date} from {mail.sender}: {mail.subject}")
                if mail.attachments:
                    click.echo(f"      attachments: {', '.join(mail.attachments)}")
    finally:
        box.logout()


def _outcomes(ctx: click.Context):
    from paperfs.mail.handoff import Handoff
    from paperfs.mail.outcome import Outcomes
    from paperfs.mail.records import RECORDS_NAME, MailRecords

    runtime = runtime_of(ctx).initialised()
    root = runtime.root
    return Outcomes(root, runtime.config.mail, MailRecords(root.root / RECORDS_NAME),
                    Handoff(root))


@mail.command("records")
@click.option("--account", help="Only this account's mails.")
@click.option("--limit", default=50, show_default=True, help="The newest this many.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def mail_records(ctx: click.Context, account: str | None, limit: int, as_json: bool) -> None:
    """The mails taken by the rules and what became of each: filed (with the ids of
    its documents), no documents (nothing consumable), failed, being consumed."""
    from paperfs.mail.records import RECORDS_NAME, MailRecords

    root = runtime_of(ctx).initialised().root
    records = MailRecords(root.root / RECORDS_NAME).select(account=account)
    records.sort(key=lambda r: r.handed_at)
    rows = [{"record": r.key, "message_id": r.message_id, "file": r.name, "state": r.state,
             "documents": r.documents, "reason": r.reason or None}
            for r in records[-limit:] if limit > 0]

    def line(row: dict) -> str:
        detail = ""
        if row["documents"]:
            detail = " (documents " + ", ".join(map(str, row["documents"])) + ")"
        elif row["reason"] and row["state"] == "failed":
            detail = f" ({row['reason']})"
        return f"{row['record']}: {row['state']}{detail}: {row['file']}"

    _echo_rows(rows, as_json, "no mails recorded", line)


def _echo_rows(rows: list[dict], as_json: bool, empty: str, line) -> None:
    """Rows as JSON, or one line each (*empty* when there are none)."""
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=json_default, ensure_ascii=False))
        return
    if not rows:
        click.echo(empty)
    for row in rows:
        click.echo(line(row))


@mail.command("failed")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def failed_mails(ctx: click.Context, as_json: bool) -> None:
    """Mails whose consumption failed and whose retries are used up."""
    rows = [{"record": r.key, "message_id": r.message_id, "failures": r.failures,
             "reason": r.reason, "message": r.message, "file": f"failed/{r.failed_file}"}
            for r in _outcomes(ctx).given_up()]
    _echo_rows(rows, as_json, "no failed mails",
               lambda row: f"{row['record']} ({row['failures']} failures): {row['reason']}: "
                           f"{row['message']} [{row['file']}]")


@mail.command("retry")
@click.argument("records", nargs=-1)
@click.pass_context
def retry_mails(ctx: click.Context, records: tuple[str, ...]) -> None:
    """Hand failed mails over again (RECORDS as 'paperfs mail failed' names them; none:
    every mail whose retries are used up). A running daemon takes them at once."""
    retried = _outcomes(ctx).retry(records or None)
    for record in retried:
        click.echo(f"handed over again: {record.key}")
    for key in sorted(set(records) - {record.key for record in retried}):
        click.echo(f"not retried: {key} is not among 'paperfs mail failed' (a mail still "
                   "retried automatically waits for its turn)", err=True)
    if not retried:
        click.echo("no failed mails to retry")
