"""The sealed-string base shared by every syntax type, and the one error they raise."""

from __future__ import annotations

from typing import Any, Self

from cocore.errors import InvalidInput

# Only the parse functions in this package hold this key, so only they can build the types.
_PARSED = object()


class InvalidSyntaxError(InvalidInput):
    """A string is not a valid DID, handle, NSID, AT-URI, record key, TID, CID or datetime."""

    default_code = "invalid_syntax"


class SyntaxString(str):
    """A string proven valid by a parse function. Compares and serialises as a plain str."""

    __slots__ = ()
    kind: str = "string"

    def __new__(cls, value: str, key: object = None) -> Self:
        if key is not _PARSED:
            raise TypeError(f"{cls.__name__} is built by its parse function, not directly")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self)))


def _rebuild(cls: type[SyntaxString], value: str) -> SyntaxString:
    return cls(value, _PARSED)


def reject(kind: str, value: object, why: str) -> InvalidSyntaxError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return InvalidSyntaxError(f"invalid {kind} {shown}: {why}", code=f"invalid_{kind}")


def require_str(kind: str, value: object, max_len: int) -> str:
    if not isinstance(value, str):
        raise reject(kind, value, f"expected a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise reject(kind, value, f"longer than {max_len} characters")
    if not value.isascii():
        raise reject(kind, value, "contains non-ASCII characters")
    return value
