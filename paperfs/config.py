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
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from paperfs.config_rules import generic_key, host_problem, port_problem, value_problem
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
    #: LibreOffice's time for one office document (stages/office.py); past it only that document fails
    office_timeout_seconds: float = 120.0
    #: a mail attachment larger than this is not consumed (noted in the mail document)
    mail_attachment_max_mb: float = 25.0

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
class ClassifyConfig:
    """The classify section: matching rules and the learned classifier."""

    #: a prediction of the learned classifier is applied only with at least this probability
    threshold: float = 0.7
    #: how often the scheduler looks whether the archive changed since the last training
    retrain_check_seconds: float = 300.0
    #: time limit of one regex rule on one document
    regex_timeout_seconds: float = 0.1
    #: how often the daemon looks for documents a scheduled workflow is due on
    workflow_check_seconds: float = 60.0


@dataclass(frozen=True)
class SmtpConfig:
    """The smtp section: the server workflows send e-mail through."""

    host: str = ""
    port: int = 25
    security: str = "none"
    username: str = ""
    password: str = ""
    sender: str = "paperfs@localhost"
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class TagBarcode:
    """A barcode whose whole text matches *pattern* adds the tag *tag* (``\\1``: a group)."""

    pattern: str
    tag: str


@dataclass(frozen=True)
class BarcodeConfig:
    """The barcodes section: separator sheets, ASN and tag barcodes (docs/paper.md).
    It travels to the workers (PrepareTask); a folder rule file may change it."""

    enabled: bool = False
    separator: str = "PATCHT"
    keep_separator_pages: bool = False
    asn_prefix: str = "ASN"
    split_on_asn: bool = True
    tags: tuple[TagBarcode, ...] = ()
    split_on_tag: bool = False
    #: the symbologies looked for (each one more costs time on every page)
    formats: tuple[str, ...] = ("code128", "code39", "qr")
    #: pages read from the start of a scan (0: all)
    max_pages: int = 0
    dpi: int = 300


@dataclass(frozen=True)
class DoubleSidedConfig:
    """The double_sided section: two single-sided passes collated (docs/paper.md)."""

    enabled: bool = False
    folder: str = "double-sided"
    window_seconds: float = 1800.0


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
    #: share links (docs/sharing.md): the longest expiry a link may have
    share_max_days: float = 90.0
    #: the base of share URLs printed by `paperfs share` (empty: http(s)://dav.host:dav.port)
    public_url: str = ""
    saved: tuple[SavedSearchConfig, ...] = ()
    #: `paperfs dav` with queue: where its local copy of the catalog lives (None:
    #: $XDG_CACHE_HOME/paperfs, /var/cache/paperfs as root, else ~/.cache/paperfs)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class ClusterConfig:
    """The cluster section: the split deployment over Redis and Celery (docs/deployment.md)."""

    #: a job redelivered this many times (its worker died each time) fails for good
    max_deliveries: int = 3
    #: how long the active scheduler's lock lives without renewal: the takeover bound
    leader_lease_seconds: float = 30.0
    #: how often each service writes its heartbeat (for `paperfs status`)
    heartbeat_seconds: float = 10.0
    #: Redis' visibility timeout for unacknowledged tasks (a lost worker's job comes back after it)
    visibility_timeout_seconds: float = 3600.0
    #: the scheduler's and the worker's /metrics, /healthz, /readyz (0: not served)
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"


@dataclass(frozen=True)
class MailAccount:
    """One IMAP account of the mail section (docs/mail.md); its password never in here."""

    name: str
    host: str
    user: str
    #: 0: the usual port of the security (993 with tls, else 143)
    port: int = 0
    security: str = "tls"
    password_file: Path | None = None
    password_env: str = ""
    #: refused with a clear error: a password belongs in password_file or password_env
    password: str = ""
    timeout_seconds: float = 30.0
    #: tls/starttls: the CA (or the server's own certificate) to trust instead of the system's
    ca_file: Path | None = None


@dataclass(frozen=True)
class MailConfig:
    """The mail section: IMAP accounts; their rules are in mail.yml (docs/mail.md)."""

    accounts: tuple[MailAccount, ...] = ()
    #: how often every account's rules are run (IDLE brings new mail sooner)
    poll_seconds: float = 300.0
    #: wait with IMAP IDLE between polls where the server supports it
    idle: bool = True
    #: a mail whose consumption failed is handed over again this many times
    retries: int = 3
    #: the first retry's delay; each later one waits twice as long
    retry_seconds: float = 600.0


@dataclass(frozen=True)
class Config:
    data_root: Path = Path(".")
    log_level: str = "INFO"
    #: the broker of the split deployment, redis://HOST:PORT/DB (empty: all in one process)
    queue: str = ""
    #: separates deployments that share one Redis and one SolrCloud (key prefix, collection)
    tenant: str = ""
    inbox: InboxConfig = field(default_factory=InboxConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    consume: ConsumeConfig = field(default_factory=ConsumeConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    dav: DavConfig = field(default_factory=DavConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    barcodes: BarcodeConfig = field(default_factory=BarcodeConfig)
    double_sided: DoubleSidedConfig = field(default_factory=DoubleSidedConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    #: the file this was loaded from (None: defaults only); not a config key
    source: Path | None = field(default=None, compare=False)

    @property
    def workers(self) -> int:
        return self.consume.workers or (os.cpu_count() or 1)


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
        problem = value_problem(key, value)
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
        self.check_mail(config.mail)

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


    def check_mail(self, mail: MailConfig) -> None:
        """Account names once each; every account's password from exactly one place."""
        seen: set[str] = set()
        for i, account in enumerate(mail.accounts):
            key = f"mail.accounts[{i}]"
            if account.name.casefold() in seen:
                raise self.fail(f"{key}.name", f"{account.name!r} is used twice")
            seen.add(account.name.casefold())
            if (account.password_file is None) == (not account.password_env):
                raise self.fail(key, f"account {account.name!r}: give password_file (a file "
                                     "holding the password) or password_env (an environment "
                                     "variable's name), one of them")
            if account.password_env.upper().startswith(ENV_PREFIX):
                raise self.fail(f"{key}.password_env", f"{account.password_env!r}: variables "
                                f"named {ENV_PREFIX}* are read as configuration overrides; "
                                f"name it otherwise, e.g. IMAP_PASSWORD_{account.name.upper()}")


def _check_section(section: str, values: Any) -> None:
    """The loader's value checks for a section built in code (ConfigError names the key)."""
    for f in dataclasses.fields(values):
        key = f"{section}.{f.name}"
        problem = value_problem(key, getattr(values, f.name))
        if problem:
            raise ConfigError(f"{key}: {problem}")


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
    if config.tenant and "collection" not in (data.get("index") or {}):
        # each tenant its own Solr collection unless one is named
        config = dataclasses.replace(config, index=dataclasses.replace(
            config.index, collection=f"paperfs-{config.tenant}"))
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
