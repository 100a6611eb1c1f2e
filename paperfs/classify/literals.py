"""What every match of a regular expression must contain: a pre-filter for regex rules.

A regex rule is searched only in a text that has, for each requirement found
here, one of its literals: a text without them cannot match, and a
``str.find`` is far cheaper than the regex engine over a long text (an
alternation such as ``(?:order|bestellung)`` costs it a try at every position).

Only the pattern's top level is read (a literal inside a repeat, an optional
group or a lookaround may be skipped by a match), with the standard library's
parser of regular expressions; a pattern it cannot read (syntax only the
``regex`` package knows) gets no pre-filter. Requirements:

* a run of literal characters, e.g. ``invoice`` in ``invoice\\s+\\d+``;
* a group at the top level: the run in it, or when it is an alternation (or
  the whole pattern is one) one of the alternatives' runs, e.g. ``order`` or
  ``bestellung``; only when every alternative has one;
* a run followed by a group whose alternatives all start with literal
  characters: the run joined to one of those starts, e.g. ``invoice no`` or
  ``invoice number`` for ``invoice\\s+(no\\.?|number)``.

The text a run is looked up in has its whitespace runs collapsed to one
space: whitespace that every match has between two literal characters
(``\\s+``, `` +``, a space) is one space in the run; ``\\s*`` ends it.
Case-insensitive: a run is looked up case-folded, and only when it is ASCII
(any character the regex engine takes as equal to an ASCII letter case-folds
to that letter); a requirement with another run is dropped.
"""

from __future__ import annotations

import re
from typing import Any

_MIN_RUN = 2  # a single character is in nearly every text
_LITERAL = re._constants.LITERAL  # type: ignore[attr-defined]
_SUBPATTERN = re._constants.SUBPATTERN  # type: ignore[attr-defined]
_BRANCH = re._constants.BRANCH  # type: ignore[attr-defined]
_IN = re._constants.IN  # type: ignore[attr-defined]
_CATEGORY = re._constants.CATEGORY  # type: ignore[attr-defined]
_CATEGORY_SPACE = re._constants.CATEGORY_SPACE  # type: ignore[attr-defined]
_REPEATS = (re._constants.MAX_REPEAT, re._constants.MIN_REPEAT,  # type: ignore[attr-defined]
            re._constants.POSSESSIVE_REPEAT)  # type: ignore[attr-defined]

#: one requirement: (literals of which the text must contain one, look in the folded text?)
Requirement = tuple[tuple[str, ...], bool]


def required_literals(pattern: str, case_sensitive: bool) -> list[Requirement]:
    """The requirements every match of *pattern* meets (none: no pre-filter)."""
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - the regex package's own syntax, or anything odd
        return []
    ignore_case = not case_sensitive or bool(parsed.state.flags & re.IGNORECASE)
    out: list[Requirement] = []
    best = _longest_run(parsed)
    if _usable(best, ignore_case):
        out.append(((_fold(best, ignore_case),), ignore_case))
    for items in _alternations(parsed):
        runs = [_longest_run(branch) for branch in items]
        if all(_usable(run, ignore_case) for run in runs):
            out.append((tuple(dict.fromkeys(_fold(run, ignore_case) for run in runs)), ignore_case))
    for joined in _runs_into_groups(parsed):
        if all(_usable(run, ignore_case) for run in joined):
            out.append((tuple(dict.fromkeys(_fold(run, ignore_case) for run in joined)), ignore_case))
    return out


def _runs_into_groups(items: Any) -> list[list[str]]:
    """A run followed by a group, joined: ``invoice\\s+(no\\.?|number)`` needs ``invoice no``
    or ``invoice number``. Each alternative of the group must start with literal
    characters (else the group may match nothing, or whitespace the text's collapsed
    form would merge)."""
    found = []
    for run, space, end in _runs(items):
        if run and end is not None and end[0] is _SUBPATTERN and not end[1][1] and not end[1][2]:
            starts = _group_starts(end[1][3])
            if starts and all(starts):
                found.append([run + (" " if space else "") + start for start in starts])
    return found


def _group_starts(inner: Any) -> list[str]:
    """The literal characters each alternative of a group starts with ("" for one that
    starts otherwise): a leading run, then a branch's alternatives' leading runs."""
    lead = _leading_run(inner)
    rest = inner[len(lead):]
    if len(rest) and rest[0][0] is _BRANCH:
        return [lead + _leading_run(branch) for branch in rest[0][1][1]]
    return [lead]


def _leading_run(items: Any) -> str:
    run = []
    for op, value in items:
        if op is not _LITERAL or chr(value).isspace():
            break
        run.append(chr(value))
    return "".join(run)


def _runs(items: Any) -> list[tuple[str, bool, Any]]:
    """The runs of literal characters in a sequence of parsed items, each with whether
    whitespace follows it and the item that ends it (None: the end). Whitespace that
    must be there (``\\s+``, a space) between two characters is one space in a run."""
    out = []
    run: list[str] = []
    space = False  # whitespace since the run's last character
    for op, value in items:
        least = _whitespace(op, value)
        if op is _LITERAL and least is None:
            if space and run:
                run.append(" ")
            run.append(chr(value))
            space = False
        elif least is not None and (least >= 1 or space):
            space = True  # (\\s* after whitespace that must be there: still one space)
        else:
            out.append(("".join(run), space, (op, value)))
            run, space = [], False
    out.append(("".join(run), space, None))
    return out


def _longest_run(items: Any) -> str:
    return max((run for run, _space, _end in _runs(items)), key=len)


def _whitespace(op: Any, value: Any) -> int | None:
    """For an item that matches whitespace characters and nothing else, how many at
    least; None for any other item. Between two literal characters, whitespace is one
    space in the text's collapsed form (the regex engine's \\s is whitespace to
    str.split too)."""
    if op is _LITERAL:
        return 1 if chr(value).isspace() else None
    if op is _IN:
        return 1 if value == [(_CATEGORY, _CATEGORY_SPACE)] else None
    if op in _REPEATS:
        low, _high, body = value
        inner = _whitespace(*body[0]) if len(body) == 1 else None
        return None if inner is None else low * inner
    return None


def _alternations(items: Any) -> list[list[Any]]:
    """The alternatives of each group every match goes through (one, for a group that
    is no alternation): the whole pattern when it is an alternation, and each group at
    the top level (not one with flags of its own)."""
    found = []
    for op, value in items:
        if op is _BRANCH:
            found.append(value[1])
        elif op is _SUBPATTERN:
            _group, add_flags, del_flags, inner = value
            if add_flags or del_flags:
                continue
            found.append(inner[0][1][1] if len(inner) == 1 and inner[0][0] is _BRANCH else [inner])
    return found


def _usable(run: str, ignore_case: bool) -> bool:
    return len(run) >= _MIN_RUN and (run.isascii() or not ignore_case)


def _fold(run: str, ignore_case: bool) -> str:
    return run.casefold() if ignore_case else run
