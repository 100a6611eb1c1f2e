"""sd_notify for Type=notify units: READY, STATUS, WATCHDOG, STOPPING."""

from __future__ import annotations

import os

import sdnotify


class Notifier:
    """A no-op outside systemd (no NOTIFY_SOCKET)."""

    def __init__(self) -> None:
        self._notifier = sdnotify.SystemdNotifier() if os.environ.get("NOTIFY_SOCKET") else None

    def notify(self, state: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(state)
