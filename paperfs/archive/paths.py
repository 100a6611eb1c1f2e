"""The path rules of a configuration: ``archive.paths`` compiled for the writer."""

from __future__ import annotations

from paperfs.archive.naming import PathRules, PathTemplate
from paperfs.config import Config


def build_rules(config: Config) -> PathRules:
    """Each rule's ``when`` (a search condition) and ``path`` (a template), checked now,
    so that a mistake in the configuration is reported before anything is filed."""
    rules = []
    for i, rule in enumerate(config.archive.paths):
        key = f"archive.paths[{i}]"
        condition = None
        if rule.when:
            # Only a configuration with conditions needs the query language.
            from paperfs.search.match import compile_condition
            condition = compile_condition(rule.when, key=f"{key}.when")
        rules.append((condition, PathTemplate(rule.path, key=f"{key}.path")))
    return PathRules(rules, unknown=config.archive.unknown_correspondent,
                     max_bytes=config.archive.max_name_bytes)
