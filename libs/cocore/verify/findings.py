"""Findings: what a verifier found, as `{severity, code, message}` with the reference's codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARN = "warn"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"severity": str(self.severity), "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one verification: ok means no error-severity finding."""

    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [f.to_json() for f in self.findings]}


@dataclass
class Findings:
    """An ordered, de-duplicated collector the verifiers append to."""

    items: list[Finding] = field(default_factory=list)

    def error(self, code: str, message: str) -> None:
        self.add(Finding(Severity.ERROR, code, message))

    def warn(self, code: str, message: str) -> None:
        self.add(Finding(Severity.WARN, code, message))

    def add(self, finding: Finding) -> None:
        if finding not in self.items:
            self.items.append(finding)

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.items)

    def verdict(self) -> Verdict:
        return Verdict(tuple(self.items))
