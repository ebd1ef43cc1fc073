"""Lexicon loading and compiled validation of cocore records, params and bodies.

Conventions enforced here, beyond the atproto lexicon rules:

- `bytes` fields hold a plain standard-base64 string (cocore's wire form; padding optional);
  the atproto `{"$bytes": "…"}` form is accepted too. Length limits apply to decoded bytes.
- `knownValues` is open: any string passes. Only `enum` and `const` close a string.
- Objects are open: undeclared properties are allowed and not checked.
- A union member must carry `$type` (`nsid` and `nsid#main` are the same); an open union lets
  unknown types through unchecked, a closed one rejects them.
- String `minLength`/`maxLength` count UTF-8 bytes; graphemes are approximated.
- Integers are 64-bit and never booleans; `default` is ignored when validating records.

Validators are compiled once at load into small closures (see `_compile.py`), and each record
type also into one generated function (`_fast.py`) that only answers "certainly valid and
canonical?" (`certify_record`); the closures run when it cannot say so, to find the issues. Use
`default_registry()` for the shipped lexicons and `ids` for NSID constants.
"""

from .issues import (
    MAX_ISSUES,
    LexiconLoadError,
    LexiconValidationError,
    UnknownLexiconError,
    ValidationIssue,
)
from .registry import LexiconRegistry, default_registry

__all__ = [
    "MAX_ISSUES",
    "LexiconLoadError",
    "LexiconRegistry",
    "LexiconValidationError",
    "UnknownLexiconError",
    "ValidationIssue",
    "default_registry",
]
