"""A reader for the plain YAML that paperfs writes into sidecars, several times
faster than PyYAML.

PyYAML's constructor is Python even with the C parser: about 0.3 ms for the
thirty-odd small nodes of a sidecar's metadata, most of a rebuild's time.
``plain_mapping`` reads the plain shapes paperfs and its tools write (block
mappings, ``key: scalar``, ``[]``/``{}`` and simple flow collections, quoted
strings without escapes, a literal block for the content) by hand, resolving
plain scalars with PyYAML's own resolver, and returns None for anything else,
which the caller then gives to PyYAML (``document.loads``): the document is
the same either way (tests/test_sidecar_reader.py compares the two).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import yaml

_RESOLVER = yaml.resolver.Resolver()
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
_ANCHOR = re.compile(r"[A-Za-z0-9_-]+\Z")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d\Z")
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_ITEM = re.compile(r'\s*(?:"([^"\\]*)"|\'((?:[^\']|\'\')*)\'|([^\s,\[\]{}:#"\'][^,\[\]{}:#"\']*?))\s*(,|\Z)')
_FLOW_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*): +")


class _Unsure(Exception):
    """A shape the fast reader does not handle: use PyYAML."""


def _plain(text: str, flow: bool = False) -> Any:
    if not text:
        return None
    if (text[0] in _PLAIN_BAD_START or ": " in text or " #" in text or text.endswith(":")
            or "\t" in text or (flow and any(c in text for c in ",[]{}"))):
        raise _Unsure
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() in ("yes", "true", "on")
    if tag == "tag:yaml.org,2002:int" and _INT.match(text):
        return int(text)
    if tag == "tag:yaml.org,2002:timestamp":
        if _DATE.match(text):
            return dt.date.fromisoformat(text)
        if _STAMP.match(text):
            return dt.datetime.fromisoformat(text)
    raise _Unsure


def _scalar(text: str, flow: bool = False) -> Any:
    """A one-line scalar (already stripped of surrounding spaces)."""
    if not text:
        return None
    first = text[0]
    if first == '"':
        if len(text) < 2 or text[-1] != '"' or "\\" in text or '"' in text[1:-1]:
            raise _Unsure
        return text[1:-1]
    if first == "'":
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
            raise _Unsure
        return inner.replace("''", "'")
    if first == "[":
        return _flow(text[1:-1], "]", text)
    if first == "{":
        return _flow(text[1:-1], "}", text)
    return _plain_memo(text, flow)


def _flow(inner: str, close: str, text: str) -> Any:
    """A one-line flow collection of scalars: ``[a, "b c"]``, ``{kind: x, path: "y"}``."""
    if text[-1] != close:
        raise _Unsure
    mapping = close == "}"
    out_map: dict[str, Any] = {}
    out_list: list[Any] = []
    pos, end = 0, len(inner)
    if not inner.strip():
        return out_map if mapping else out_list
    while True:
        key = None
        if mapping:
            m = _FLOW_KEY.match(inner, pos)
            if m is None:
                raise _Unsure
            key = m.group(1)
            if _plain_memo(key) != key:
                raise _Unsure
            pos = m.end()
        m = _FLOW_ITEM.match(inner, pos)
        if m is None:
            raise _Unsure
        if m.group(1) is not None:
            value: Any = m.group(1)
        elif m.group(2) is not None:
            value = m.group(2).replace("''", "'")
        else:
            value = _plain_memo(m.group(3).strip(), flow=True)
        if mapping:
            out_map[key] = value  # type: ignore[index]
        else:
            out_list.append(value)
        pos = m.end()
        if m.group(4) == "":
            break
        if pos >= end:
            raise _Unsure  # a trailing comma
    return out_map if mapping else out_list


def _fast_mapping(text: str) -> dict[str, Any]:
    lines = text.split("\n")
    n = len(lines)
    # (indent, container) of the open block collections; the top one is innermost
    root: dict[str, Any] = {}
    stack: list[tuple[int, Any]] = [(0, root)]
    pending: tuple[int, dict, str] | None = None  # a "key:" waiting for its block
    anchors: dict[str, Any] = {}
    i = 0
    while i < n:
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or (stripped[0] == "#" and line[0] == "#"):
            continue
        if "\t" in line or stripped in ("---", "..."):
            raise _Unsure
        indent = len(line) - len(line.lstrip(" "))
        if pending is not None:
            p_indent, p_parent, p_key = pending
            pending = None
            if stripped.startswith("- ") or stripped == "-":
                if indent < p_indent:
                    raise _Unsure
                seq: list[Any] = []
                p_parent[p_key] = seq
                stack.append((indent, seq))
            elif indent > p_indent:
                child: dict[str, Any] = {}
                p_parent[p_key] = child
                stack.append((indent, child))
            else:
                p_parent[p_key] = None
        while stack and indent < stack[-1][0]:
            stack.pop()
        if not stack or indent != stack[-1][0]:
            raise _Unsure
        container = stack[-1][1]
        if isinstance(container, list):
            if not (stripped.startswith("- ") or stripped == "-"):
                # a sequence at the same indent as its key ends here
                stack.pop()
                if not stack or indent != stack[-1][0] or isinstance(stack[-1][1], list):
                    raise _Unsure
                container = stack[-1][1]
            else:
                item = stripped[1:].strip()
                if not item or item[0] in "-?" or (": " in item and item[0] not in "\"'"):
                    raise _Unsure
                container.append(_scalar(item))
                continue
        if stripped.startswith("- "):
            raise _Unsure
        key, sep, rest = stripped.partition(":")
        if not _KEY.match(key) or (sep and rest and rest[0] != " ") or not sep:
            raise _Unsure
        if _plain_memo(key) != key:
            raise _Unsure
        rest = rest.strip()
        if rest.startswith("#"):
            raise _Unsure
        if rest in ("|", "|-", "|+"):
            if len(stack) != 1:
                raise _Unsure
            value, i = _literal(lines, i, rest[1:])
            container[key] = value
            continue
        if not rest:
            pending = (indent, container, key)
            continue
        first = rest[0]
        if first == "&" or first == "*":
            # an anchor on a scalar, and its alias (the dumper writes them when
            # added and modified are the same timestamp)
            name, _, value = rest[1:].partition(" ")
            if not _ANCHOR.match(name):
                raise _Unsure
            if first == "*":
                if value or name not in anchors:
                    raise _Unsure
                container[key] = anchors[name]
                continue
            value = value.strip()
            if not value or value[0] in "|>&*!":
                raise _Unsure
            container[key] = anchors[name] = _scalar(value)
            continue
        if first in "|>!":
            raise _Unsure
        container[key] = _scalar(rest)
    if pending is not None:
        pending[1][pending[2]] = None
    return root


def _literal(lines: list[str], i: int, chomp: str) -> tuple[str, int]:
    """A literal block from line ``i`` that runs to the end of the text (the
    content, written last): (text, the line after it). Dedented with string
    replacement; anything unusual (more keys after it, spaces at line ends,
    blank lines with spaces, tabs) is left to PyYAML."""
    rest = "\n".join(lines[i:])
    if " \n" in rest or "\t" in rest or rest.endswith(" "):
        raise _Unsure
    start = rest.lstrip("\n")
    if not start:
        return ("\n" * rest.count("\n") if chomp == "+" else ""), len(lines)
    width = len(start) - len(start.lstrip(" "))
    if width == 0:
        raise _Unsure  # an empty block followed by more keys
    body = "\n" + rest
    if _less_indented(width).search(body):
        raise _Unsure  # a line less indented: the block ends before the text does
    body = body.replace("\n" + " " * width, "\n")[1:]
    if chomp == "-":
        return body.rstrip("\n"), len(lines)
    if chomp == "":
        kept = body.rstrip("\n")
        return (kept + "\n" if kept else ""), len(lines)
    return body, len(lines)


@functools.lru_cache(maxsize=16)
def _less_indented(width: int) -> re.Pattern:
    return re.compile(r"\n {0,%d}[^ \n]" % (width - 1))


_PLAIN_MEMO: dict[tuple[str, bool], Any] = {}


def _plain_memo(text: str, flow: bool = False) -> Any:
    """``_plain`` remembered for short values (keys, null, false, mime types)."""
    key = (text, flow)
    try:
        return _PLAIN_MEMO[key]
    except KeyError:
        value = _plain(text, flow)
        if len(text) <= 40 and len(_PLAIN_MEMO) < 4096:
            _PLAIN_MEMO[key] = value
        return value


def plain_mapping(text: str) -> dict[str, Any] | None:
    """The mapping in *text* if it has only the plain shapes read here, else None."""
    if "\r" in text or "\ufeff" in text:
        return None
    try:
        return _fast_mapping(text)
    except (_Unsure, ValueError, IndexError):
        return None
