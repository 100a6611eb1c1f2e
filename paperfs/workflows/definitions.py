"""workflows.yml: what each workflow reacts to, which documents it takes, what it does.

The file is a mapping of workflow names to their settings::

    Invoices from ACME:
      triggers: [document_added]
      filters: {content: {algorithm: any, match: "ACME"}}
      actions:
        - tags: [invoice]
        - title: "{{ correspondent }} {{ created }}"

It is checked as a whole when it is read (``load_workflows``): an error names
the file, the line, the workflow and what is wrong, and nothing of an invalid
file is used (``WorkflowsFile`` keeps the last valid version in force).
Templates are compiled here, so a syntax error in one is a load error too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from paperfs.classify.matching import ALGORITHMS, ALIASES, Rule, compile_rule
from paperfs.errors import ConfigError
from paperfs.user_files import LastValid, NodeReader, compose, node_kind, read_text
from paperfs.workflows.model import (ACTIONS, FIELD_OPS, REMOVABLE, SCHEDULE_FROM, SOURCES,
                                     TRIGGERS, Action, FieldCondition, Filters, Trigger, Workflow,
                                     WorkflowSet, parse_duration)
from paperfs.workflows.templates import Template, TemplateError, compile_template

class WorkflowsError(ConfigError):
    """workflows.yml is invalid: the message names the file, line and workflow."""


class _Reader(NodeReader):
    """Walks the composed YAML nodes, so every problem can name its line."""

    def __init__(self, source: str) -> None:
        super().__init__(source, WorkflowsError)
        self.workflow = ""

    def fail(self, node: yaml.Node | None, problem: str, who: str = "") -> Exception:
        return super().fail(node, problem, who or (f"workflow {self.workflow!r}" if self.workflow else ""))

    def mapping(self, node: yaml.Node, what: str, known: tuple[str, ...] = ()) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node); unknown keys are refused when *known* is given."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping, got {node_kind(node)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = str(self.value(key)).strip() if isinstance(key, yaml.ScalarNode) else ""
            if not name:
                raise self.fail(key, f"{what}: a key must be a non-empty text")
            if name in out:
                raise self.fail(key, f"{what}: {name!r} is given twice (first on line "
                                     f"{out[name][0].start_mark.line + 1})")
            if known and name not in known:
                raise self.fail(key, f"{what}: unknown key {name!r}; known: {', '.join(known)}")
            out[name] = (key, value)
        return out

    def items(self, node: yaml.Node) -> list[yaml.Node]:
        """A sequence's items; a single value is a list of one."""
        return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]

    def names(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        out: list[str] = []
        for item in self.items(node):
            value = self.value(item)
            if value is None:
                continue
            if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
                raise self.fail(item, f"{what}: expected a name or a list of names, got {value!r}")
            out.append(str(value).strip())
        return tuple(out)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(node, f"{what}: expected a text, got {value!r}")
        return str(value)

    def template(self, node: yaml.Node, what: str) -> Template:
        try:
            return compile_template(self.text(node, what))
        except TemplateError as exc:
            raise self.fail(node, f"{what}: {exc}") from None

    def number(self, node: yaml.Node, what: str, low: float, high: float) -> float:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(node, f"{what}: expected a number from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def flag(self, node: yaml.Node, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what}: expected true or false, got {value!r}")
        return value

    # ------------------------------------------------------------ the file

    def parse(self, text: str) -> WorkflowSet:
        root = compose(text, self.source, WorkflowsError)
        if root is None or (isinstance(root, yaml.ScalarNode) and self.value(root) is None):
            return WorkflowSet(source=self.source)
        workflows = []
        for name, (key, node) in self.mapping(root, "the top level (workflow names)").items():
            self.workflow = name
            workflows.append(self.workflow_of(name, key, node))
            self.workflow = ""
        return WorkflowSet(tuple(workflows), self.source)

    def workflow_of(self, name: str, key: yaml.Node, node: yaml.Node) -> Workflow:
        parts = self.mapping(node, "a workflow", ("triggers", "filters", "actions", "enabled"))
        if "triggers" not in parts:
            raise self.fail(key, "has no triggers; add e.g. 'triggers: [document_added]'")
        if "actions" not in parts:
            raise self.fail(key, "has no actions; add a list of actions ('actions: [...]')")
        triggers = tuple(self.trigger(item) for item in self.items(parts["triggers"][1]))
        if not triggers:
            raise self.fail(parts["triggers"][1], "triggers: give at least one")
        kinds = [t.kind for t in triggers]
        if len(set(kinds)) != len(kinds):
            raise self.fail(parts["triggers"][1], "triggers: each trigger may be given once")
        filters = self.filters(parts["filters"][1]) if "filters" in parts else Filters()
        actions = tuple(self.action(item) for item in self.items(parts["actions"][1]))
        if not actions:
            raise self.fail(parts["actions"][1], "actions: give at least one")
        enabled = self.flag(parts["enabled"][1], "enabled") if "enabled" in parts else True
        if "consumption_started" in kinds:
            self.check_consumption(parts, filters, actions)
        return Workflow(name, triggers, filters, actions, key.start_mark.line + 1, enabled)

    def check_consumption(self, parts: dict, filters: Filters, actions: tuple[Action, ...]) -> None:
        """Before a file is read nothing is known of its document but where it came from."""
        used = filters.document_only()
        if used:
            raise self.fail(parts["filters"][1], f"filter {used[0]!r} cannot apply to "
                            "consumption_started (the document is not read yet); filter by "
                            "source, filename or path, or use document_added")
        for action in actions:
            if not action.assigns:
                raise WorkflowsError(
                    f"{self.source}: line {action.line}: workflow {self.workflow!r}: action "
                    f"{action.kind!r} cannot run at consumption_started (there is no document "
                    "yet); only assignments can, use document_added for the others")

    # ------------------------------------------------------------ triggers

    def trigger(self, node: yaml.Node) -> Trigger:
        if isinstance(node, yaml.ScalarNode):
            kind = self.text(node, "triggers")
            if kind == "scheduled":
                raise self.fail(node, "triggers: scheduled needs settings, e.g. "
                                      "'- scheduled: {from: created, offset: 30d}'")
            if kind not in TRIGGERS:
                raise self.fail(node, f"unknown trigger {kind!r}; known: {', '.join(TRIGGERS)}")
            return Trigger(kind)
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            raise self.fail(node, "a trigger is one name, or one name with its settings "
                                  "(a mapping with one key)")
        (kind, (key, settings)), = self.mapping(node, "a trigger").items()
        if kind != "scheduled":
            if kind in TRIGGERS:
                raise self.fail(key, f"trigger {kind!r} takes no settings; write it alone")
            raise self.fail(key, f"unknown trigger {kind!r}; known: {', '.join(TRIGGERS)}")
        return self.scheduled(settings)

    def scheduled(self, node: yaml.Node) -> Trigger:
        parts = self.mapping(node, "scheduled", ("from", "field", "offset", "recurring"))
        date_from, custom = "created", None
        if "field" in parts:
            if "from" in parts:
                raise self.fail(parts["field"][0], "scheduled: give 'from' (created, added, "
                                                   "modified) or 'field' (a custom date field), not both")
            date_from, custom = "custom_field", self.text(parts["field"][1], "scheduled.field").strip()
        elif "from" in parts:
            date_from = self.text(parts["from"][1], "scheduled.from")
            if date_from not in SCHEDULE_FROM:
                raise self.fail(parts["from"][1], f"scheduled.from: {date_from!r} is not one of "
                                f"{', '.join(SCHEDULE_FROM)} (a custom date field: 'field: NAME')")
        offset = self.duration(parts, "offset") or dt.timedelta(0)
        recurring = self.duration(parts, "recurring")
        if recurring is not None and recurring <= dt.timedelta(0):
            raise self.fail(parts["recurring"][1], "scheduled.recurring: must be longer than 0")
        return Trigger("scheduled", date_from, custom, offset, recurring)

    def duration(self, parts: dict, key: str) -> dt.timedelta | None:
        if key not in parts:
            return None
        value = parse_duration(self.value(parts[key][1]))
        if value is None:
            raise self.fail(parts[key][1], f"scheduled.{key}: expected a duration like 30d, "
                            f"-7d, 12h or 2w, got {self.value(parts[key][1])!r}")
        return value

    # ------------------------------------------------------------ filters

    def filters(self, node: yaml.Node) -> Filters:
        parts = self.mapping(node, "filters", ("source", "filename", "path", "content", "tags",
                                               "correspondent", "document_type", "custom_fields"))
        values: dict[str, Any] = {}
        if "source" in parts:
            sources = self.names(parts["source"][1], "filters.source")
            for source in sources:
                if source not in SOURCES:
                    raise self.fail(parts["source"][1], f"filters.source: {source!r} is not "
                                    f"one of {', '.join(SOURCES)}")
            values["sources"] = sources
        for key in ("filename", "path"):
            if key in parts:
                values[key] = self.text(parts[key][1], f"filters.{key}")
        if "content" in parts:
            values["content"] = self.content(parts["content"][1])
        if "tags" in parts:
            tags = self.mapping(parts["tags"][1], "filters.tags", ("any", "all", "none"))
            for key, (_k, value) in tags.items():
                values[f"tags_{key}"] = self.names(value, f"filters.tags.{key}")
        for key, short in (("correspondent", "correspondent"), ("document_type", "type")):
            if key in parts:
                values.update(self.membership(parts[key][1], key, short))
        if "custom_fields" in parts:
            values["custom_fields"] = tuple(self.condition(item)
                                            for item in self.items(parts["custom_fields"][1]))
        return Filters(**values)

    def content(self, node: yaml.Node) -> Rule:
        parts = self.mapping(node, "filters.content", ("algorithm", "match", "case_sensitive"))
        if "match" not in parts:
            raise self.fail(node, "filters.content: needs 'match' (and 'algorithm', default any)")
        algorithm = self.text(parts["algorithm"][1], "filters.content.algorithm") \
            if "algorithm" in parts else "any"
        if ALIASES.get(algorithm, algorithm) not in ALGORITHMS or algorithm in ("auto", "none"):
            usable = [a for a in ALGORITHMS if a not in ("auto", "none")]
            raise self.fail(parts["algorithm"][1], f"filters.content.algorithm: {algorithm!r} "
                            f"is not one of {', '.join(usable)}")
        case = self.flag(parts["case_sensitive"][1], "filters.content.case_sensitive") \
            if "case_sensitive" in parts else False
        rule = compile_rule(algorithm, self.text(parts["match"][1], "filters.content.match"),
                            case_sensitive=case, label=f"workflow {self.workflow}")
        if rule.problem is not None:
            raise self.fail(parts["match"][1], f"filters.content.match: {rule.problem.reason}")
        return rule

    def membership(self, node: yaml.Node, key: str, short: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(node, yaml.MappingNode):  # a plain list means "in"
            return {f"{short}_in": self.names(node, f"filters.{key}")}
        parts = self.mapping(node, f"filters.{key}", ("in", "not_in"))
        return {f"{short}_{k}": self.names(v, f"filters.{key}.{k}") for k, (_key, v) in parts.items()}

    def condition(self, node: yaml.Node) -> FieldCondition:
        parts = self.mapping(node, "filters.custom_fields item", ("field", "op", "value"))
        if "field" not in parts:
            raise self.fail(node, "filters.custom_fields: each condition needs 'field' "
                                  "(and 'op', 'value')")
        name = self.text(parts["field"][1], "filters.custom_fields.field").strip()
        op = self.text(parts["op"][1], "filters.custom_fields.op") if "op" in parts else "exists"
        if op not in FIELD_OPS:
            raise self.fail(parts["op"][1], f"filters.custom_fields.op: {op!r} is not one of "
                                            f"{', '.join(FIELD_OPS)}")
        if op not in ("exists", "missing") and "value" not in parts:
            raise self.fail(node, f"filters.custom_fields: op {op!r} needs a 'value'")
        return FieldCondition(name, op, self.value(parts["value"][1]) if "value" in parts else None)

    # ------------------------------------------------------------ actions

    def action(self, node: yaml.Node) -> Action:
        if isinstance(node, yaml.ScalarNode) and self.value(node) == "trash":
            return Action("trash", {}, node.start_mark.line + 1)
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            raise self.fail(node, "each action is a mapping with one key (the action), e.g. "
                                  "'- tags: [invoice]'")
        (kind, (key, value)), = self.mapping(node, "an action").items()
        if kind not in ACTIONS:
            raise self.fail(key, f"unknown action {kind!r}; known: {', '.join(ACTIONS)}")
        settings = getattr(self, f"action_{kind}")(value)
        return Action(kind, settings, key.start_mark.line + 1)

    def action_title(self, node: yaml.Node) -> dict[str, Any]:
        return {"template": self.template(node, "title")}

    def action_tags(self, node: yaml.Node) -> dict[str, Any]:
        return {"names": self.names(node, "tags")}

    def _one_name(self, node: yaml.Node, what: str) -> dict[str, Any]:
        return {"name": self.text(node, what).strip()}

    def action_correspondent(self, node: yaml.Node) -> dict[str, Any]:
        return self._one_name(node, "correspondent")

    def action_document_type(self, node: yaml.Node) -> dict[str, Any]:
        return self._one_name(node, "document_type")

    def action_owner(self, node: yaml.Node) -> dict[str, Any]:
        return self._one_name(node, "owner")

    def action_permissions(self, node: yaml.Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for right, (_k, grants) in self.mapping(node, "permissions", ("view", "change")).items():
            for who, (_k2, names) in self.mapping(grants, f"permissions.{right}",
                                                   ("users", "groups")).items():
                out[f"{right}_{who}"] = self.names(names, f"permissions.{right}.{who}")
        return out

    def action_custom_fields(self, node: yaml.Node) -> dict[str, Any]:
        values = {name: self.value(value)
                  for name, (_k, value) in self.mapping(node, "custom_fields").items()}
        return {"values": values}

    def action_remove(self, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode) and self.value(node) == "all":
            return {"all": True}
        out: dict[str, Any] = {}
        for key, (_k, value) in self.mapping(node, "remove", REMOVABLE).items():
            plain = self.value(value)
            if plain is True or plain == "all":
                out[key] = True
            elif key in ("tags", "custom_fields", "correspondent", "document_type"):
                out[key] = self.names(value, f"remove.{key}")
            else:
                raise self.fail(value, f"remove.{key}: expected true")
        return out

    def action_trash(self, node: yaml.Node) -> dict[str, Any]:
        if self.value(node) is not True:
            raise self.fail(node, "trash: write '- trash' or '- trash: true'")
        return {}

    def action_webhook(self, node: yaml.Node) -> dict[str, Any]:
        parts = self.mapping(node, "webhook", ("url", "method", "body", "json", "headers",
                                               "timeout", "retries"))
        if "url" not in parts:
            raise self.fail(node, "webhook: needs a 'url'")
        url = self.text(parts["url"][1], "webhook.url")
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise self.fail(parts["url"][1], f"webhook.url: {url!r} is not an http:// or "
                                             "https:// address")
        method = self.text(parts["method"][1], "webhook.method").upper() if "method" in parts else "POST"
        if method not in ("POST", "PUT", "PATCH", "GET"):
            raise self.fail(parts["method"][1], "webhook.method: POST, PUT, PATCH or GET")
        if "body" in parts and "json" in parts:
            raise self.fail(parts["json"][0], "webhook: give 'body' (a text) or 'json' (a "
                                              "mapping), not both")
        settings: dict[str, Any] = {
            "url": url, "method": method,
            "timeout": self.number(parts["timeout"][1], "webhook.timeout", 0.1, 600)
            if "timeout" in parts else 10.0,
            "retries": int(self.number(parts["retries"][1], "webhook.retries", 0, 20))
            if "retries" in parts else 3,
            "headers": {k: self.text(v, f"webhook.headers.{k}") for k, (_key, v) in
                        self.mapping(parts["headers"][1], "webhook.headers").items()}
            if "headers" in parts else {},
        }
        if "body" in parts:
            settings["body"] = self.template(parts["body"][1], "webhook.body")
        if "json" in parts:
            settings["json"] = self.json_templates(parts["json"][1], "webhook.json")
        return settings

    def json_templates(self, node: yaml.Node, what: str) -> Any:
        """A JSON body: every text in it is a template."""
        if isinstance(node, yaml.MappingNode):
            return {k: self.json_templates(v, f"{what}.{k}")
                    for k, (_key, v) in self.mapping(node, what).items()}
        if isinstance(node, yaml.SequenceNode):
            return [self.json_templates(item, what) for item in node.value]
        value = self.value(node)
        return self.template(node, what) if isinstance(value, str) else value

    def action_email(self, node: yaml.Node) -> dict[str, Any]:
        parts = self.mapping(node, "email", ("to", "subject", "body", "attach"))
        for key in ("to", "subject"):
            if key not in parts:
                raise self.fail(node, f"email: needs '{key}'")
        to = self.names(parts["to"][1], "email.to")
        for address in to:
            if "@" not in address:
                raise self.fail(parts["to"][1], f"email.to: {address!r} is not an address")
        return {"to": to, "subject": self.template(parts["subject"][1], "email.subject"),
                "body": self.template(parts["body"][1], "email.body") if "body" in parts
                else compile_template(""),
                "attach": self.flag(parts["attach"][1], "email.attach") if "attach" in parts else False}

    def action_script(self, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            return {"path": self.text(node, "script"), "timeout": 60.0}
        parts = self.mapping(node, "script", ("path", "timeout"))
        if "path" not in parts:
            raise self.fail(node, "script: needs a 'path'")
        return {"path": self.text(parts["path"][1], "script.path"),
                "timeout": self.number(parts["timeout"][1], "script.timeout", 0.1, 3600)
                if "timeout" in parts else 60.0}


def parse_workflows(text: str, source: str = "workflows.yml") -> WorkflowSet:
    """The workflows in *text*; WorkflowsError names *source*, the line and the problem."""
    return _Reader(source).parse(text)


def load_workflows(path: Path) -> WorkflowSet:
    """The workflows in the file; no file is no workflows."""
    text = read_text(path, WorkflowsError)
    return WorkflowSet(source=str(path)) if text is None else parse_workflows(text, str(path))


class WorkflowsFile(LastValid[WorkflowSet]):
    """workflows.yml as the daemon sees it: read again when it changed; an invalid
    version is reported (``problem``) and the last valid one stays in force."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, load_workflows, WorkflowSet(source=str(path)), WorkflowsError)


def workflows_status(path: Path) -> dict[str, Any]:
    """For `paperfs status` and `check`: how many workflows, or what is wrong."""
    try:
        return {"count": len(load_workflows(path)), "problem": None}
    except WorkflowsError as exc:
        return {"count": None, "problem": str(exc)}
