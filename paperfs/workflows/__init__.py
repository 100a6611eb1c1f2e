"""Workflows (workflows.yml): when something happens to a document (a trigger),
and it passes the filters, do the actions in order. docs/workflows.md.

definitions.py reads and checks the file, filters.py and templates.py decide
and render, actions.py changes documents through the writer, webhook.py,
mailer.py and script.py are the actions that reach outside, runs.py records
runs, engine.py puts them together for the daemon (daemon/workflow_triggers.py).
"""
