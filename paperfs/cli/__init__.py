"""The command line: ``paperfs``. The group and its shared helpers are in app.py;
each command module registers its commands on it when imported here (they import
app, never this package, so there is no circle)."""

from paperfs.cli import dav_commands, index_commands, solr_commands  # noqa: F401  (register)
from paperfs.cli.app import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="paperfs")
