"""Where in which lexicon file a schema node sits, and strict readers for its attributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .issues import LexiconLoadError


@dataclass(frozen=True, slots=True)
class Site:
    """A schema node's file, lexicon id and JSON path, so load errors say exactly where."""

    file: str
    nsid: str
    pointer: str = ""

    def at(self, key: str | int) -> Site:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.pointer else key)
        return Site(self.file, self.nsid, self.pointer + step)

    def fail(self, message: str) -> LexiconLoadError:
        return LexiconLoadError(f"{self.file}: {self.pointer or '(top)'}: {message}")

    def obj(self, node: Any) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise self.fail("expected a JSON object")
        return node

    def opt_int(self, node: dict[str, Any], key: str, *, minimum: int | None = 0) -> int | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.at(key).fail("expected an integer")
        if minimum is not None and value < minimum:
            raise self.at(key).fail(f"must be at least {minimum}")
        return value

    def opt_bool(self, node: dict[str, Any], key: str) -> bool | None:
        value = node.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.at(key).fail("expected a boolean")
        return value

    def opt_str(self, node: dict[str, Any], key: str) -> str | None:
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            raise self.at(key).fail("expected a string")
        return value

    def req_str(self, node: dict[str, Any], key: str) -> str:
        value = self.opt_str(node, key)
        if value is None:
            raise self.at(key).fail("required")
        return value

    def opt_list(self, node: dict[str, Any], key: str, kind: type) -> tuple[Any, ...] | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.at(key).fail("expected an array")
        for i, item in enumerate(value):
            if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
                raise self.at(key).at(i).fail(f"expected {kind.__name__}")
        return tuple(value)

    def str_list(self, node: dict[str, Any], key: str) -> tuple[str, ...]:
        return self.opt_list(node, key, str) or ()
