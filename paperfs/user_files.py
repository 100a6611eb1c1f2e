"""The YAML files a user edits in the data root (labels.yml, fields.yml,
workflows.yml): read with the line of every problem, and held by a
long-running process so that an invalid edit changes nothing.

``compose`` gives the file's node tree (each node knows its line) or an error
naming the file, line and column; ``LastValid`` reads the file again when it
changes (mtime, size) and keeps the last valid version in force, with the
current problem for ``paperfs check`` and ``status``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

import yaml
from yaml.constructor import SafeConstructor

log = logging.getLogger(__name__)

T = TypeVar("T")


def read_text(path: Path, error: type[Exception]) -> str | None:
    """The file's text; None when there is no file. Unreadable (permissions, a folder,
    not UTF-8) is *error*, so a holder keeps its last valid version as for a mistake."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read it: {exc}") from None


def compose(text: str, source: str, error: type[Exception]) -> yaml.Node | None:
    """The YAML node tree of *text*; *error* names *source*, the line and column."""
    try:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error(f"{source}: {where}not valid YAML: "
                    f"{getattr(exc, 'problem', None) or exc}") from None


class NodeReader:
    """Reads values out of a composed file, and words errors as ``FILE: line N: WHO: problem``."""

    def __init__(self, source: str, error: type[Exception]) -> None:
        self.source = source
        self.error = error
        self.constructor = SafeConstructor()

    def fail(self, node: yaml.Node | None, problem: str, who: str = "") -> Exception:
        where = f"line {node.start_mark.line + 1}: " if node is not None else ""
        return self.error(f"{self.source}: {where}{who + ': ' if who else ''}{problem}")

    def value(self, node: yaml.Node) -> Any:
        return self.constructor.construct_object(node, deep=True)


def node_kind(node: yaml.Node) -> str:
    """What a node is, for a message: "a list", "a mapping", or its text."""
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a mapping"


class LastValid(Generic[T]):
    """A user's file as a long-running process sees it: *load* again when it
    changed; a version that raises *error* is reported (``problem``) and the last
    valid one stays in force. Safe to share between threads (WebDAV, the loop)."""

    def __init__(self, path: Path, load: Callable[[Path], T], empty: T,
                 error: type[Exception]) -> None:
        self.path = path
        self._load = load
        self._error = error
        self._value = empty
        self._stamp: object = "not read yet"
        self._lock = threading.Lock()
        self.problem: str | None = None

    def current(self) -> T:
        try:
            stat = os.stat(self.path)
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._value = self._load(self.path)
                except self._error as exc:
                    if self.problem != str(exc):
                        log.error("%s; the last valid version stays in force", exc)
                    self.problem = str(exc)
                else:
                    if self.problem:
                        log.info("%s is valid again", self.path)
                    self.problem = None
            return self._value

    def problems(self) -> list[str]:
        """What `paperfs check`/`status` report: nothing, or the current problem."""
        self.current()
        return [self.problem] if self.problem else []
