"""The error for a query that cannot be parsed, shown with a caret under the problem."""

from __future__ import annotations

from paperfs.errors import PaperfsError

_WINDOW = 72  # characters of a long query shown around the problem


def _render(query: str, position: int, reason: str) -> str:
    # One char per char keeps the caret aligned: newlines, tabs → spaces.
    line = "".join(ch if ch.isprintable() else " " for ch in query)
    caret = position
    if len(line) > _WINDOW:
        start = max(0, min(position - _WINDOW // 2, len(line) - _WINDOW))
        end = start + _WINDOW
        head = "…" if start > 0 else ""
        tail = "…" if end < len(line) else ""
        line = head + line[start:end] + tail
        caret = len(head) + position - start
    return f"{line}\n{' ' * caret}^ {reason}"


class QuerySyntaxError(PaperfsError):
    """A query that cannot be parsed; ``str()`` shows it with a caret.

    ``position`` is the 0-based character offset of the problem,
    ``reason`` the one-line explanation.
    """

    exit_code = 2

    def __init__(self, query: str, position: int, reason: str) -> None:
        self.query = query
        self.position = position
        self.reason = reason
        super().__init__(_render(query, position, reason))

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        # Picklable across process boundaries despite the custom __init__.
        return (type(self), (self.query, self.position, self.reason))
