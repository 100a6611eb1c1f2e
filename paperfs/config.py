"""Configuration: one YAML file plus PAPERFS_* environment overrides.

Every section is a frozen dataclass; the loader walks the dataclass fields, so
the set of valid keys, their types and defaults live in one place (and
tests/test_config.py checks that docs/configuration.md documents each one).

Environment overrides use a double underscore between levels and YAML for the
value: ``PAPERFS_OCR__LANGUAGES=eng+deu``, ``PAPERFS_CONSUME__WORKERS=4``,
``PAPERFS_INBOX__IGNORE='[".*", "*.part"]'``.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from paperfs.errors import ConfigError

CONFIG_NAME = "paperfs.yml"
ENV_PREFIX = "PAPERFS_"
# Variables that are not config keys (they choose the config itself).
ENV_NOT_KEYS = {"PAPERFS_CONFIG", "PAPERFS_ROOT", "PAPERFS_SOLR_CACHE"}

DEFAULT_IGNORE = (
    ".*",  # dotfiles: .DS_Store, .~lock.x#, ._resource forks, .stfolder
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.swp",
    "~$*",
    "~*.tmp",
    "@eaDir",
    "#recycle",
    "#snapshot",
    "$RECYCLE.BIN",
    "Thumbs.db",
    "desktop.ini",
    "*.error.yml",
)

DEFAULT_PATH_TEMPLATE = "{correspondent}/{created:%Y}/{created:%Y-%m-%d} {title}"


@dataclass(frozen=True)
class InboxConfig:
    folders: tuple[str, ...] = ("inbox",)
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    stable_seconds: float = 2.0
    incomplete_seconds: float = 300.0
    subfolders_as_tags: bool = False
    poll_seconds: float = 0.5


@dataclass(frozen=True)
class OcrConfig:
    mode: str = "auto"
    languages: str = "eng"
    deskew: bool = False
    rotate_pages: bool = False
    clean: bool = False
    pdfa_born_digital: bool = False
    image_dpi: int = 300
    min_text_chars: int = 20
    tesseract_timeout: float = 180.0


@dataclass(frozen=True)
class ConsumeConfig:
    workers: int = 0
    timeout_seconds: float = 600.0
    worker_idle_seconds: float = 60.0
    date_order: str = "DMY"
    date_languages: tuple[str, ...] = ("en", "de")
    min_year: int = 1900


@dataclass(frozen=True)
class PathRule:
    path: str
    when: str = ""


@dataclass(frozen=True)
class ArchiveConfig:
    paths: tuple[PathRule, ...] = (PathRule(path=DEFAULT_PATH_TEMPLATE),)
    unknown_correspondent: str = "Unknown"
    max_name_bytes: int = 180


@dataclass(frozen=True)
class IndexConfig:
    backend: str = "sqlite"
    url: str = ""
    zk_hosts: str = ""
    collection: str = "paperfs"
    timeout_seconds: float = 10.0
    commit_within_ms: int = 1000
    fallback: bool = False


@dataclass(frozen=True)
class SavedSearchConfig:
    name: str
    query: str


@dataclass(frozen=True)
class DavConfig:
    """The WebDAV server (docs/webdav.md)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth: str = "basic"
    threads: int = 16
    inbox_idle_seconds: float = 10.0
    trash_days: float = 30.0
    max_body_bytes: int = 1024 * 1024 * 1024
    max_xml_bytes: int = 1024 * 1024
    max_header_bytes: int = 64 * 1024
    throttle_failures: int = 10
    throttle_window_seconds: float = 300.0
    throttle_block_seconds: float = 300.0
    saved: tuple[SavedSearchConfig, ...] = ()


@dataclass(frozen=True)
class Config:
    data_root: Path = Path(".")
    log_level: str = "INFO"
    inbox: InboxConfig = field(default_factory=InboxConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    consume: ConsumeConfig = field(default_factory=ConsumeConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    dav: DavConfig = field(default_factory=DavConfig)
    #: the file this was loaded from (None: defaults only); not a config key
    source: Path | None = field(default=None, compare=False)

    @property
    def workers(self) -> int:
        return self.consume.workers or (os.cpu_count() or 1)


_CHOICES: dict[str, tuple[str, ...]] = {
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "ocr.mode": ("auto", "always", "never", "redo"),
    "consume.date_order": ("DMY", "MDY", "YMD"),
    "index.backend": ("sqlite", "solr"),
    "dav.auth": ("basic", "digest", "both"),
}
_POSITIVE = {"inbox.stable_seconds", "inbox.incomplete_seconds", "inbox.poll_seconds",
             "consume.timeout_seconds", "consume.worker_idle_seconds", "ocr.image_dpi",
             "ocr.tesseract_timeout", "archive.max_name_bytes", "index.timeout_seconds",
             "index.commit_within_ms",
             # dav (docs/webdav.md)
             "dav.port", "dav.threads", "dav.inbox_idle_seconds", "dav.trash_days",
             "dav.max_body_bytes", "dav.max_xml_bytes", "dav.max_header_bytes",
             "dav.throttle_failures", "dav.throttle_window_seconds",
             "dav.throttle_block_seconds"}


class _Loader:
    """Converts plain YAML data into the dataclasses, naming key paths in errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}")

    def build(self, cls: type, data: Any, prefix: str) -> Any:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.fail(prefix or "(top level)", f"expected a mapping, got {_kind(data)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            key = _join(prefix, str(unknown[0]))
            raise self.fail(key, f"unknown key; valid keys here: {', '.join(sorted(fields))}")
        for name, f in fields.items():
            if (name not in data and f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING):
                raise self.fail(prefix or "(top level)", f"missing required key {name!r}")
        values = {}
        for name, value in data.items():
            key = _join(prefix, name)
            values[name] = self.convert(hints[name], value, key)
        return cls(**values)

    def convert(self, hint: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(hint)
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, key)
        if origin is tuple:
            (item_hint, _ellipsis) = typing.get_args(hint)
            if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
                if item_hint is str and isinstance(value, str):
                    value = [value]
                else:
                    raise self.fail(key, f"expected a list, got {_kind(value)}")
            return tuple(self.convert(item_hint, v, f"{key}[{i}]") for i, v in enumerate(value))
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if hint is Path:
            if not isinstance(value, str) or not value:
                raise self.fail(key, f"expected a path, got {_kind(value)}")
            value = Path(value)
        elif hint is bool:
            if not isinstance(value, bool):
                raise self.fail(key, f"expected true or false, got {value!r}")
        elif hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(key, f"expected a whole number, got {value!r}")
        elif hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(key, f"expected a number, got {value!r}")
            value = float(value)
        elif hint is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise self.fail(key, f"expected text, got {_kind(value)}")
            value = str(value)
        self.check(key, value)
        return value

    def check(self, key: str, value: Any) -> None:
        generic = _generic_key(key)
        choices = _CHOICES.get(generic)
        if choices and value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        if generic in _POSITIVE and value <= 0:
            raise self.fail(key, f"must be greater than 0, got {value!r}")
        if generic == "consume.workers" and value < 0:
            raise self.fail(key, "must be 0 (one per CPU core) or more")
        if generic == "ocr.languages":
            if not all(part.isalnum() or "_" in part for part in value.split("+")):
                raise self.fail(key, f"{value!r} is not a tesseract language list like eng+deu")


def _generic_key(key: str) -> str:
    """'archive.paths[2].path' -> 'archive.paths.path'."""
    out = []
    for part in key.split("."):
        out.append(part.split("[", 1)[0])
    return ".".join(out)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """PAPERFS_OCR__MODE=always -> {"ocr": {"mode": "always"}}."""
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_KEYS:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (int, float, bool)) and parts[-1] in ("languages", "path", "when"):
            value = raw
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config file (None: defaults) plus env overrides.

    A relative data_root is taken relative to the config file's folder; with no
    file, relative to the working directory.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found; create one with 'paperfs init'")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}")
        try:
            loaded = yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise ConfigError(f"{path}: {where}not valid YAML: {getattr(exc, 'problem', exc)}")
        if loaded is not None and not isinstance(loaded, Mapping):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        data = dict(loaded or {})
    env = _env_overrides(environ)
    if env:
        source = f"{source} (with PAPERFS_* environment overrides)"
        data = _merge(data, env)
    config: Config = _Loader(source).build(Config, data, "")
    root = config.data_root.expanduser()
    if not root.is_absolute():
        base = path.parent if path is not None else Path.cwd()
        root = base / root
    return dataclasses.replace(config, data_root=root.resolve(), source=path)


def config_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every documented key as a dotted path, e.g. 'ocr.languages'."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        key = _join(prefix, f.name)
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            keys.extend(config_keys(hint, key))
        else:
            keys.append(key)
            args = typing.get_args(hint)
            if typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
                keys.extend(config_keys(args[0], key))
    return keys
