"""Per-folder rule files: `.paperfs-folder.yml` in any inbox folder.

A rule file sets, for everything dropped at or below its folder: the OCR
settings (``ocr:``, any key of paperfs.yml's ocr section, e.g. languages and
mode), ``tags``, ``correspondent``, ``document_type``, ``owner``, barcode
settings (``barcodes:``, any key of that section) and ``double_sided``
(collate the files here). Files deeper in the tree inherit and override:
sections merge key by key, every other key replaces. The effective settings
are decided when a file is claimed and recorded in its job (``Job.settings``),
so a restart or a later edit of the rule file does not change them.

A rule file that is not valid stops its folder and everything below it: the
files there stay in the inbox untouched, a note beside the rule file
(`.paperfs-folder.error.txt`) names the line and the problem, the daemon logs
it and `paperfs status` lists it. Fixing (or removing) the file resumes the
folder. Both names start with a dot, so the inbox never takes them as inputs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from paperfs.config import BarcodeConfig, OcrConfig, TagBarcode, _Loader
from paperfs.errors import ConfigError

log = logging.getLogger(__name__)

RULE_FILE = ".paperfs-folder.yml"
NOTE_FILE = ".paperfs-folder.error.txt"

#: the keys of a rule file and their types (sections: any key of that config section)
_KEYS: dict[str, Any] = {
    "ocr": OcrConfig,
    "barcodes": BarcodeConfig,
    "tags": tuple[str, ...],
    "correspondent": str,
    "document_type": str,
    "owner": str,
    "double_sided": bool,
}
_SECTIONS = ("ocr", "barcodes")


class RuleFileError(ConfigError):
    """A rule file that cannot be applied: its folder stops until it is fixed."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}: line {line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


class Settings:
    """The effective settings of a job (Job.settings), applied to the configuration."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.data.get("files") or ())

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def ocr(self, base: OcrConfig) -> OcrConfig:
        changes = self.data.get("ocr")
        return dataclasses.replace(base, **changes) if changes else base

    def barcodes(self, base: BarcodeConfig) -> BarcodeConfig:
        changes = dict(self.data.get("barcodes") or {})
        if "tags" in changes:
            changes["tags"] = tuple(TagBarcode(**rule) for rule in changes["tags"])
        return dataclasses.replace(base, **changes) if changes else base


def parse(path: Path) -> dict[str, Any]:
    """A rule file's settings, checked; RuleFileError names the line and the problem."""
    try:
        text = path.read_text("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except UnicodeDecodeError:
        raise RuleFileError(path, 1, "not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleFileError(path, mark.line + 1 if mark else 1,
                            f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RuleFileError(path, 1, "expected settings (key: value), such as 'tags: [tax]'")
    lines = _key_lines(node)
    loader = _Loader(str(path))
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KEYS:
            raise RuleFileError(path, lines.get(str(key), 1),
                                f"{key}: unknown key; valid keys: {', '.join(_KEYS)}")
        hint = _KEYS[key]
        try:
            if key in _SECTIONS:
                loader.build(hint, value, key)  # checked like paperfs.yml; only its keys kept
                settings[key] = dict(value or {})
            else:
                converted = loader.convert(hint, value, key)
                settings[key] = list(converted) if isinstance(converted, tuple) else converted
        except ConfigError as exc:
            where, _, problem = str(exc).removeprefix(f"{path}: ").partition(": ")
            raise RuleFileError(path, _line_of(where, lines), f"{where}: {problem}") from None
    return settings


def _key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    """'barcodes.tags[0].pattern' -> its line (1-based), for every key in the file."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            lines[path] = key.start_mark.line + 1
            lines.update(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[f"{prefix}[{i}]"] = item.start_mark.line + 1
            lines.update(_key_lines(item, f"{prefix}[{i}]"))
    return lines


def _line_of(key: str, lines: dict[str, int]) -> int:
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return 1


def merged(outer: Mapping[str, Any], inner: Mapping[str, Any]) -> dict[str, Any]:
    """*inner* (a deeper folder's rules) over *outer*: sections key by key."""
    out = dict(outer)
    for key, value in inner.items():
        if key in _SECTIONS and key in out:
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


class FolderRules:
    """The rule files of the inboxes, read when a file is claimed (cached by stat)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int, int], dict[str, Any] | RuleFileError]] = {}
        #: rule files that stop their folder, with the problem
        self.stopped: dict[Path, str] = {}
        self._resumed = False

    def settings_for(self, path: Path, inbox: Path) -> dict[str, Any] | None:
        """The effective settings for a file in *inbox* (None: no rule file applies);
        RuleFileError if a rule file on its way is not valid (the file must wait)."""
        folder, folders = path.parent, []
        while folder == inbox or inbox in folder.parents:
            folders.append(folder)
            folder = folder.parent
        settings: dict[str, Any] = {}
        files = []
        for folder in reversed(folders):
            rules = self._rules(folder / RULE_FILE)
            if rules is not None:
                settings = merged(settings, rules)
                files.append((folder / RULE_FILE).relative_to(inbox.parent).as_posix())
        return {**settings, "files": files} if files else None

    def check_all(self, inboxes: list[Path]) -> None:
        """At start-up: every rule file read, so that status names a bad one at once
        and notes of files fixed meanwhile go."""
        for inbox in inboxes:
            for dirpath, _dirs, names in os.walk(inbox):
                if NOTE_FILE in names and RULE_FILE not in names:
                    (Path(dirpath) / NOTE_FILE).unlink()  # the rule file was removed meanwhile
                elif RULE_FILE in names:
                    try:
                        self._rules(Path(dirpath) / RULE_FILE)
                    except RuleFileError:
                        pass

    def resumed(self) -> bool:
        """Whether a stopped folder's rule file was fixed or removed since the last call
        (its files are then taken again)."""
        for rule in list(self.stopped):
            try:
                self._rules(rule)
            except RuleFileError:
                pass
        resumed, self._resumed = self._resumed, False
        return resumed

    def _rules(self, rule: Path) -> dict[str, Any] | None:
        try:
            st = rule.stat()
        except FileNotFoundError:
            if rule in self.stopped:
                self._resume(rule)
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache.get(rule)
        if cached is None or cached[0] != stamp:
            try:
                result: dict[str, Any] | RuleFileError = parse(rule)
            except RuleFileError as exc:
                result = exc
                self._stop(rule, exc)
            else:
                self._resume(rule)
            self._cache[rule] = (stamp, result)
        else:
            result = cached[1]
        if isinstance(result, RuleFileError):
            raise result
        return result

    def _stop(self, rule: Path, error: RuleFileError) -> None:
        note = rule.with_name(NOTE_FILE)
        text = (f"paperfs does not consume this folder (and those below it): {RULE_FILE} "
                f"line {error.line}: {error.problem}\n"
                "The files here wait untouched. Fix or remove the rule file; this note "
                "goes away by itself and the files are taken.\n")
        try:
            if not note.exists() or note.read_text("utf-8") != text:
                note.write_text(text, "utf-8")
        except OSError as exc:
            log.warning("cannot write %s: %s", note, exc)
        if rule not in self.stopped:
            log.error("folder stopped: %s", error)
        self.stopped[rule] = f"line {error.line}: {error.problem}"

    def _resume(self, rule: Path) -> None:
        if self.stopped.pop(rule, None) is not None:
            log.info("folder resumed: %s", rule.parent)
            self._resumed = True
        rule.with_name(NOTE_FILE).unlink(missing_ok=True)


def stopped_folders(inboxes: list[Path], data_root: Path) -> list[dict[str, str]]:
    """The folders a bad rule file stops, from the notes beside them (for status,
    with or without a daemon)."""
    out = []
    for inbox in inboxes:
        for dirpath, _dirs, names in os.walk(inbox):
            if NOTE_FILE in names:
                note = Path(dirpath) / NOTE_FILE
                try:
                    problem = note.read_text("utf-8").splitlines()[0]
                except (OSError, IndexError, UnicodeDecodeError):
                    problem = "(the note cannot be read)"
                out.append({"folder": Path(dirpath).relative_to(data_root).as_posix(),
                            "problem": problem.split(": ", 1)[-1]})
    return out
