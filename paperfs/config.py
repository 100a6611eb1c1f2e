"""Configuration: one YAML file plus PAPERFS_* environment overrides.

Every section is a frozen dataclass; the loader walks the dataclass fields, so
the set of valid keys, their types and defaults live in one place (and
tests/test_config.py checks that docs/configuration.md documents each one).
What a value may be beyond its type (ranges, addresses, paths) is in _RULES;
what only shows across keys is in _Loader.check_together. Both run at load, so
a mistake is one line naming the file and the key, never a traceback later.

Environment overrides use a double underscore between levels and YAML for the
value: ``PAPERFS_OCR__LANGUAGES=eng+deu``, ``PAPERFS_CONSUME__WORKERS=4``,
``PAPERFS_INBOX__IGNORE='[".*", "*.part"]'``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import types
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from paperfs.errors import ConfigError, PaperfsError

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
    """The ocr section; also what the text stage runs with (it travels to the workers)."""

    mode: str = "auto"  # auto | always | never | redo
    languages: str = "eng"  # tesseract syntax, eng+deu
    deskew: bool = False
    rotate_pages: bool = False
    clean: bool = False
    pdfa_born_digital: bool = False  # born-digital PDFs through PDF/A conversion too (slow)
    image_dpi: int = 300  # assumed for images without a DPI
    min_text_chars: int = 20  # per page; fewer means the page needs OCR
    tesseract_timeout: float = 180.0

    def __post_init__(self) -> None:
        # The loader checks each value already; this catches settings built in
        # code, so a bad one fails here and not inside a worker.
        _check_section("ocr", self)


@dataclass(frozen=True)
class DateConfig:
    """How the dates stage reads dates: the consume section's date keys."""

    date_order: str = "DMY"
    date_languages: tuple[str, ...] = ("en", "de")
    min_year: int = 1900


@dataclass(frozen=True)
class ConsumeConfig(DateConfig):
    """The consume section: the worker pool, plus the date keys of DateConfig."""

    workers: int = 0
    timeout_seconds: float = 600.0
    worker_idle_seconds: float = 60.0


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

# ---------------------------------------------------------------- value rules
# A rule returns what is wrong with one (converted) value, or None.
Rule = Callable[[Any], "str | None"]
_YEAR_SECONDS = 365 * 24 * 3600
_MAX_BYTES = 2 ** 63 - 1  # the largest file size any filesystem reports


def _within(low: float, high: float, what: str, *, above: bool = False) -> Rule:
    """low <= value <= high (low < value with *above*); NaN and infinity never are."""
    def rule(value: float) -> str | None:
        low_ok = value > low if above else value >= low
        if math.isfinite(value) and low_ok and value <= high:
            return None
        return f"{value!r} is not {what}"
    return rule


_SECONDS = _within(0, _YEAR_SECONDS, "a number of seconds greater than 0 and at most "
                   f"{_YEAR_SECONDS} (a year)", above=True)


def _bytes(low: int) -> Rule:
    return _within(low, _MAX_BYTES, f"a size in bytes ({low} or more)")


def _text(what: str) -> Rule:
    def rule(value: str) -> str | None:
        return None if value.strip() else f"{what} must not be empty"
    return rule


def port_problem(value: int) -> str | None:
    return _within(1, 65535, "a port (1–65535)")(value)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_problem(value: str) -> str | None:
    """An IP address (v4 or v6, without brackets) or a DNS host name."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    if (len(value) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not all(label.isdigit() for label in labels)):
        return None
    return f"{value!r} is not an IP address or host name"


def _languages(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", value):
        return None
    return f"{value!r} is not a tesseract language list like eng+deu"


def _date_language(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        return None
    return f"{value!r} is not a language code like en, de or deu"


# Data root folders an inbox must not be (or be inside): it would consume them.
_NOT_INBOXES = ("archive", "originals", "failed", "trash", ".paperfs")


def _inbox_folder(value: str) -> str | None:
    parts = Path(os.path.normpath(value)).parts
    if not value.strip():
        return "an inbox folder must not be empty"
    if not parts:  # "." or "inbox/.."
        return f"{value!r} is the data root itself; name a folder in it, such as inbox"
    if parts[0] in _NOT_INBOXES:
        return f"{value!r} is inside the data root's {parts[0]}/ folder; use a folder of its own"
    return None


def _url(value: str) -> str | None:
    if not value:
        return None
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL like http://127.0.0.1:8983/solr"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and port_problem(port):
        return f"{value!r}: the port is not 1–65535"
    return host_problem(parts.hostname)


_ZK_HOST = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>\d{1,5}))?")


def _zk_hosts(value: str) -> str | None:
    """'zk1:2181,zk2:2181/solr': hosts with optional ports, then an optional chroot."""
    if not value:
        return None
    for item in value.split("/", 1)[0].split(","):
        match = _ZK_HOST.fullmatch(item.strip())
        if (match is None or host_problem(match["v6"] or match["name"])
                or (match["port"] and port_problem(int(match["port"])))):
            return (f"{item.strip()!r} in {value!r} is not HOST or HOST:PORT "
                    "(ZooKeeper hosts like zk1:2181,zk2:2181/solr)")
    return None


def _collection(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]*", value):
        return None
    return f"{value!r} is not a Solr collection name (letters, digits, '.', '_', '-')"


def _saved_name(value: str) -> str | None:
    from paperfs.search.saved import check_saved_name
    return _problem_of(check_saved_name, value)


def _saved_query(value: str) -> str | None:
    from paperfs.search.saved import check_query
    return _problem_of(check_query, value)


def _problem_of(check: Callable[[str], Any], value: str) -> str | None:
    try:
        check(value)
    except PaperfsError as exc:
        return str(exc)
    return None


_RULES: dict[str, Rule] = {
    "inbox.folders": _inbox_folder,
    "inbox.ignore": _text("a pattern"),
    "inbox.stable_seconds": _SECONDS,
    "inbox.incomplete_seconds": _SECONDS,
    "inbox.poll_seconds": _SECONDS,
    "ocr.languages": _languages,
    "ocr.image_dpi": _within(10, 2400, "a resolution in dpi (10–2400)"),
    "ocr.min_text_chars": _within(0, 1_000_000, "a number of characters (0–1000000)"),
    "ocr.tesseract_timeout": _SECONDS,
    "consume.workers": _within(0, 1024, "a number of workers: 0 (one per CPU core) to 1024"),
    "consume.timeout_seconds": _SECONDS,
    "consume.worker_idle_seconds": _SECONDS,
    "consume.date_languages": _date_language,
    "consume.min_year": _within(1, 9999, "a year (1–9999)"),
    "archive.unknown_correspondent": _text("the name for empty fields"),
    "archive.max_name_bytes": _within(32, 255, "a name length in bytes (32–255)"),
    "index.url": _url,
    "index.zk_hosts": _zk_hosts,
    "index.collection": _collection,
    "index.timeout_seconds": _SECONDS,
    "index.commit_within_ms": _within(1, 2 ** 31 - 1,
                                      "a number of milliseconds (1–2147483647)"),
    "dav.host": host_problem,
    "dav.port": port_problem,
    "dav.threads": _within(1, 1024, "a number of threads (1–1024)"),
    "dav.inbox_idle_seconds": _SECONDS,
    "dav.trash_days": _within(0, 36500, "a number of days greater than 0 and at most 36500",
                              above=True),
    "dav.max_body_bytes": _bytes(1),
    "dav.max_xml_bytes": _bytes(1024),
    "dav.max_header_bytes": _bytes(1024),
    "dav.throttle_failures": _within(1, 1_000_000, "a number of failed logins (1–1000000)"),
    "dav.throttle_window_seconds": _SECONDS,
    "dav.throttle_block_seconds": _SECONDS,
    "dav.saved.name": _saved_name,
    "dav.saved.query": _saved_query,
}


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
            try:
                value = float(value)
            except OverflowError:  # an int too large for a float
                value = math.inf
        elif hint is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise self.fail(key, f"expected text, got {_kind(value)}")
            value = str(value)
        self.check(key, value)
        return value

    def check(self, key: str, value: Any) -> None:
        problem = _value_problem(key, value)
        if problem:
            raise self.fail(key, problem)

    def check_together(self, config: "Config") -> None:
        """What no single value shows: empty lists, pairs, names used twice, templates."""
        if not config.inbox.folders:
            raise self.fail("inbox.folders", "name at least one folder, such as [inbox]")
        dav = config.dav
        if (dav.tls_cert is None) != (dav.tls_key is None):
            missing = "dav.tls_key" if dav.tls_key is None else "dav.tls_cert"
            raise self.fail(missing, "dav.tls_cert and dav.tls_key must be set together")
        if config.index.backend == "solr" and not (config.index.url or config.index.zk_hosts):
            raise self.fail("index.url", "index.backend solr needs index.url (standalone "
                                         "Solr) or index.zk_hosts (SolrCloud)")
        seen: set[str] = set()
        for i, saved in enumerate(dav.saved):
            if saved.name.casefold() in seen:
                raise self.fail(f"dav.saved[{i}].name", f"{saved.name!r} is used twice")
            seen.add(saved.name.casefold())
        if not config.archive.paths:
            raise self.fail("archive.paths", "give at least one rule, such as "
                                             f"[{{path: {DEFAULT_PATH_TEMPLATE!r}}}]")
        self.check_path_rules(config.archive.paths)

    def check_path_rules(self, rules: tuple[PathRule, ...]) -> None:
        from paperfs.archive.naming import PathTemplate
        from paperfs.search.match import compile_condition

        for i, rule in enumerate(rules):
            key = f"archive.paths[{i}]"
            try:
                PathTemplate(rule.path, key=f"{key}.path")
                if rule.when:
                    compile_condition(rule.when, key=f"{key}.when")
            except ConfigError as exc:  # it names the key already
                raise ConfigError(f"{self.source}: {exc}") from None


def _value_problem(key: str, value: Any) -> str | None:
    """What is wrong with one converted value of *key* (choices, then _RULES)."""
    generic = _generic_key(key)
    choices = _CHOICES.get(generic)
    if choices and value not in choices:
        return f"{value!r} is not one of {', '.join(choices)}"
    rule = _RULES.get(generic)
    return rule(value) if rule else None


def _check_section(section: str, values: Any) -> None:
    """The loader's value checks for a section built in code (ConfigError names the key)."""
    for f in dataclasses.fields(values):
        key = f"{section}.{f.name}"
        problem = _value_problem(key, getattr(values, f.name))
        if problem:
            raise ConfigError(f"{key}: {problem}")


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
    loader = _Loader(source)
    config: Config = loader.build(Config, data, "")
    loader.check_together(config)
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
