"""The mail part of ``paperfs status``: each account's state, mail.yml, failed mails.

The accounts' state is what the running daemon wrote into status.json (one
line per account that cannot be used); mail.yml and the records are read
here, so the failed mails are listed with or without a daemon.
"""

from __future__ import annotations

from typing import Any

from paperfs.mail.accounts import describe
from paperfs.mail.handoff import Handoff
from paperfs.mail.outcome import Outcomes
from paperfs.mail.records import RECORDS_NAME, MailRecords
from paperfs.mail.rules import RULES_NAME, MailRulesError, load_rules


def mail_status(runtime: Any, daemon: dict[str, Any]) -> dict[str, Any] | None:
    """None when paperfs.yml names no mail account."""
    config, root = runtime.config, runtime.root
    if not config.mail.accounts:
        return None
    running = (daemon.get("mail") or {}).get("accounts") if daemon.get("running") else None
    accounts = {}
    for account in config.mail.accounts:
        state = (running or {}).get(account.name)
        accounts[account.name] = state or {"account": describe(account),
                                           "state": "not polled (the daemon is not running)",
                                           "problem": None}
    try:
        rules = load_rules(root.root / RULES_NAME, [a.name for a in config.mail.accounts])
        rules_state: dict[str, Any] = {"count": len(rules), "problem": None}
    except MailRulesError as exc:
        rules_state = {"count": None, "problem": str(exc)}
    records = MailRecords(root.root / RECORDS_NAME)
    failed = Outcomes(root, config.mail, records, Handoff(root)).given_up()
    return {
        "accounts": accounts,
        "rules": rules_state,
        "pending": len(records.select(pending=True)),
        # "done" split as a user sees it: documents filed, or none (nothing consumable)
        "filed": sum(1 for r in records if r.state == "filed"),
        "no_documents": sum(1 for r in records if r.state == "no documents"),
        "failed": [{"record": r.key, "reason": r.reason, "message": r.message,
                    "failures": r.failures, "file": r.failed_file} for r in failed],
    }


def status_lines(data: dict[str, Any]) -> list[str]:
    """What ``paperfs status`` prints for mail."""
    lines = []
    for state in data["accounts"].values():
        if state.get("problem"):
            lines.append(f"mail:        {state['account']}: ERROR: {state['problem']}")
        else:
            last = f", last poll {state['last_poll']}" if state.get("last_poll") else ""
            lines.append(f"mail:        {state['account']}: {state['state']}{last}")
    rules = data["rules"]
    lines.append(f"mail rules:  {'INVALID: ' + rules['problem'] if rules['problem'] else rules['count']}")
    lines.append(f"mail:        {data['pending']} mail(s) being consumed, "
                 f"{data['filed']} filed, {data['no_documents']} without documents, "
                 f"{len(data['failed'])} failed for good ('paperfs mail failed')")
    for item in data["failed"]:
        lines.append(f"  failed mail {item['record']}: {item['reason']}: {item['message']}")
    return lines
