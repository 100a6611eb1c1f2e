"""The ``paperfs`` command group and what its commands share.

The commands are in the modules beside this one (archive, index, Solr, WebDAV,
users); each registers on ``cli`` when paperfs/cli/__init__.py imports it,
and imports only this module of the CLI: no circle. A command is thin: it
takes the data root's runtime (``runtime_of``) and calls the core with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from paperfs import __version__
from paperfs.config import CONFIG_NAME, ENV_PREFIX, Config, load_config
from paperfs.errors import DataRootError, PaperfsError, UsageError
from paperfs.runtime import Runtime


@dataclasses.dataclass
class Context:
    root: str | None
    config_file: str | None
    _runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        """Found, loaded and checked on first use: --help needs none of it."""
        if self._runtime is None:
            runtime = Runtime(load_config(find_config(self.root, self.config_file)))
            require_data_root(runtime)
            self._runtime = runtime
        return self._runtime


def find_config(root: str | None, config: str | None) -> Path:
    if config:
        return Path(config)
    if root:
        folder = Path(root).absolute()
        problem = _not_a_data_root(folder, marker=folder / CONFIG_NAME)
        if problem:
            raise DataRootError(f"{folder} {problem}; {_init_hint(folder)}")
        return folder / CONFIG_NAME
    here = Path.cwd() / CONFIG_NAME
    if here.exists():
        return here
    raise UsageError(f"no {CONFIG_NAME} in {Path.cwd()}: pass --root DATA_ROOT, set "
                     "PAPERFS_ROOT, or create one with 'paperfs init DIR'")


def require_data_root(runtime: Runtime) -> None:
    """Only 'paperfs init' creates a data root; every other command needs an existing one."""
    config = runtime.config
    root = config.data_root
    problem = _not_a_data_root(root, marker=runtime.root.state)
    if not problem:
        return
    if f"{ENV_PREFIX}DATA_ROOT" in os.environ:
        origin = f"{ENV_PREFIX}DATA_ROOT (data_root)"
    else:
        origin = f"{config.source or 'defaults'}: data_root"
    raise DataRootError(f"{origin}: {root} {problem}; {_init_hint(root)}")


def _not_a_data_root(folder: Path, marker: Path) -> str | None:
    """What is wrong with *folder* as a data root that must hold *marker*, or None."""
    if not folder.exists():
        return "does not exist"
    if not folder.is_dir():
        return "is not a folder"
    if not marker.exists():
        return f"is not a paperfs data root (no {marker.name} in it)"
    return None


def _init_hint(folder: Path) -> str:
    return f"to create one: paperfs init {shlex.quote(str(folder))}"


def setup_logging(level: str) -> None:
    # journald adds its own timestamps; a terminal wants them.
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") \
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    for noisy in ("ocrmypdf", "pikepdf", "PIL", "watchdog", "fontTools", "pdfminer"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class PaperfsGroup(click.Group):
    """Turns PaperfsError into one clear line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PaperfsError as exc:
            click.echo(f"paperfs: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=PaperfsGroup)
@click.version_option(__version__, prog_name="paperfs")
@click.option("--root", envvar="PAPERFS_ROOT", metavar="DIR",
              help=f"Data root (its {CONFIG_NAME} is the config). [env: PAPERFS_ROOT]")
@click.option("--config", "config_file", envvar="PAPERFS_CONFIG", metavar="FILE",
              help="Config file, when it is not in the data root. [env: PAPERFS_CONFIG]")
@click.pass_context
def cli(ctx: click.Context, root: str | None, config_file: str | None) -> None:
    """paperfs: a filesystem-native document archive."""
    ctx.obj = Context(root=root, config_file=config_file)


def runtime_of(ctx: click.Context) -> Runtime:
    """The data root's runtime (its config loaded, logging set up as it says)."""
    runtime: Runtime = ctx.obj.runtime
    setup_logging(runtime.config.log_level)
    return runtime


def config_of(ctx: click.Context) -> Config:
    return runtime_of(ctx).config


def json_default(value: Any) -> Any:
    """JSON for what the core returns: dates and paths as text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


def progress_bar(total: int, label: str) -> Any:
    """A progress bar on stderr (stdout stays for the result)."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True,
                             show_percent=True)


