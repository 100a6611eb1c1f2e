"""The command line: ``paperfs``. The group and what its commands share are in
app.py; each command module registers its commands on the group when it is
imported here (they import app, never this package: no circle)."""

from paperfs.cli import (archive_commands, dav_commands, index_commands,  # noqa: F401
                         solr_commands, user_commands)
from paperfs.cli import field_commands  # noqa: F401
from paperfs.cli import classify_commands, label_commands  # noqa: F401
from paperfs.cli import training_commands  # noqa: F401
from paperfs.cli import workflow_commands  # noqa: F401
from paperfs.cli import pages_commands  # noqa: F401
from paperfs.cli import cluster_commands  # noqa: F401
from paperfs.cli import share_commands  # noqa: F401
from paperfs.cli import migrate_commands  # noqa: F401
from paperfs.cli import mail_commands  # noqa: F401
from paperfs.cli.app import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="paperfs")
