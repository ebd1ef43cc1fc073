"""Validation issues, the bounded list that collects them, and the lexicon errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from cocore.errors import InvalidInput

MAX_ISSUES = 50
# Deeper than any cocore lexicon nests; only recursive schemas can get near it.
MAX_DEPTH = 64


class ValidationIssue(NamedTuple):
    """One problem with one value: `path` is dotted (`price.amount`, `items[2].did`), "" = root."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message}"


class TooManyIssues(Exception):  # a control-flow signal, hence no Error suffix
    """Raised by `Issues.append` once the bound is reached, to stop validating early."""


class Issues(list[ValidationIssue]):
    """A list that stops validation (by raising `TooManyIssues`) after `MAX_ISSUES` entries."""

    def append(self, issue: ValidationIssue) -> None:
        super().append(issue)
        if len(self) >= MAX_ISSUES:
            raise TooManyIssues


# A compiled validator: (value, path, issues) -> None; it appends what it finds to `issues`.
Check = Callable[[Any, str, "Issues"], None]


class LexiconValidationError(InvalidInput):
    """A value does not match its lexicon; `issues` holds every problem found."""

    default_code = "lexicon_invalid"

    def __init__(self, nsid: str, issues: Iterable[ValidationIssue]) -> None:
        self.nsid = nsid
        self.issues = list(issues)
        first = str(self.issues[0]) if self.issues else "no details"
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(
            f"{nsid} invalid: {first}{more}",
            details={"issues": [{"path": i.path, "message": i.message} for i in self.issues]},
        )


class UnknownLexiconError(InvalidInput):
    """The NSID has no loaded lexicon, or the lexicon is not of the kind asked for."""

    default_code = "lexicon_unknown"


class LexiconLoadError(InvalidInput):
    """A lexicon file is malformed; the message names the file and the JSON path."""

    default_code = "lexicon_malformed"


_JSON_TYPES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
    tuple: "array",
}


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    for kind, name in _JSON_TYPES.items():  # isinstance, so subclasses (Nsid, bool) map too
        if isinstance(value, kind):
            return name
    return type(value).__name__


def child(path: str, key: str) -> str:
    """The path of an object member."""
    return f"{path}.{key}" if path else key


def shown(value: str, limit: int = 60) -> str:
    """A short repr of a string for messages, so huge values never reach logs whole."""
    return repr(value) if len(value) <= limit else repr(value[: limit - 3] + "...")
