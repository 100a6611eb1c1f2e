"""paperfs: a filesystem-native document archive."""

__version__ = "0.1.0"
