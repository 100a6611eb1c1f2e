"""The webhook action: an HTTP request with the document's fields, retried.

A request that fails (no connection, a timeout, an answer 5xx or 429) is
tried again after 1, 2, 4 … seconds, ``retries`` times; any other answer
(2xx, 3xx, 4xx) ends it. The engine runs it in a worker thread, never in the
daemon's loop.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping

from paperfs import __version__
from paperfs.workflows.templates import Template

log = logging.getLogger(__name__)

#: first pause between tries (seconds); doubled each time
BACKOFF_SECONDS = 1.0
#: longest pause between tries
MAX_BACKOFF_SECONDS = 60.0


class WebhookFailed(Exception):
    pass


def _rendered(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Template):
        return value.render(variables)
    if isinstance(value, dict):
        return {k: _rendered(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, variables) for v in value]
    return value


def request_body(settings: Mapping[str, Any], variables: Mapping[str, Any]) -> tuple[bytes, str]:
    """The body and its content type: the 'body' template, the 'json' templates, or
    (neither given) the document's fields as JSON."""
    if "body" in settings:
        return settings["body"].render(variables).encode("utf-8"), "text/plain; charset=utf-8"
    data = _rendered(settings["json"], variables) if "json" in settings else variables
    return json.dumps(data, default=str).encode("utf-8"), "application/json"


def send_webhook(settings: Mapping[str, Any], variables: Mapping[str, Any], *,
                 sleep: Callable[[float], None] = time.sleep,
                 backoff: float = BACKOFF_SECONDS) -> str:
    """Send it; returns what happened ("HTTP 200 after 3 tries"), raises WebhookFailed."""
    body, content_type = request_body(settings, variables)
    method = settings["method"]
    headers = {"Content-Type": content_type, "User-Agent": f"paperfs/{__version__}",
               **settings["headers"]}
    tries = settings["retries"] + 1
    problem = ""
    for attempt in range(1, tries + 1):
        request = urllib.request.Request(settings["url"], method=method, headers=headers,
                                         data=None if method == "GET" else body)
        try:
            with urllib.request.urlopen(request, timeout=settings["timeout"]) as answer:
                answer.read(64 * 1024)
                return f"HTTP {answer.status}" + (f" after {attempt} tries" if attempt > 1 else "")
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code != 429:
                raise WebhookFailed(f"{settings['url']}: {problem} (not retried)") from None
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, timed out
            problem = str(getattr(exc, "reason", exc))
        if attempt < tries:
            pause = min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            log.info("webhook %s: %s; trying again in %.1f s", settings["url"], problem, pause)
            sleep(pause)
    raise WebhookFailed(f"{settings['url']}: {problem} ({tries} tries)")
