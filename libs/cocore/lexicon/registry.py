"""The loaded, compiled lexicons and the validate/check entry points callers use."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._compile import Compiler
from ._fast import FastCheck, compile_fast
from ._loader import default_directory, read_documents
from ._methods import Body, Method, compile_method
from .errata import apply_errata
from .issues import (
    Check,
    Issues,
    LexiconValidationError,
    TooManyIssues,
    UnknownLexiconError,
    ValidationIssue,
    json_type,
    shown,
)

_METHODS = frozenset({"query", "procedure", "subscription"})


class LexiconRegistry:
    """Every lexicon in a directory, compiled once; validation never re-reads the JSON."""

    def __init__(
        self,
        directory: Path,
        documents: Mapping[str, Mapping[str, Any]],
        records: Mapping[str, Check],
        methods: Mapping[str, Method],
        fast: Mapping[str, FastCheck] | None = None,
    ) -> None:
        self.directory = directory
        self.documents = MappingProxyType(dict(documents))
        self._kinds = {nsid: _kind(doc) for nsid, doc in documents.items()}
        self._records = dict(records)
        self._methods = dict(methods)
        self._fast = dict(fast or {})

    @classmethod
    def load(cls, directory: Path | None = None, *, fast_paths: bool = True) -> LexiconRegistry:
        """Read and compile every lexicon under `directory` (default: the shipped lexicons).

        Each record type also gets a generated fast path (`_fast.py`) unless `fast_paths` is
        False (tests compare the two).

        Raises `LexiconLoadError` naming the file and JSON path of the first malformed node.
        """
        root = directory if directory is not None else default_directory()
        docs = read_documents(root)
        apply_errata({nsid: doc for nsid, (_, doc) in docs.items()})
        compiler = Compiler(docs)
        records: dict[str, Check] = {}
        fast: dict[str, FastCheck] = {}
        methods: dict[str, Method] = {}
        for nsid, (site, doc) in docs.items():
            for name, node in doc["defs"].items():
                def_site = site.at("defs").at(name)
                if node["type"] in _METHODS:
                    methods[nsid] = compile_method(node, def_site, compiler)
                else:  # compiled now so a broken def fails at load, not at first use
                    check = compiler.definition(f"{nsid}#{name}", def_site)
                    if node["type"] == "record":
                        records[nsid] = check
                        wanted = fast_paths and name == "main"
                        quick = compile_fast(compiler, nsid, site) if wanted else None
                        if quick is not None:
                            fast[nsid] = quick
        documents = {nsid: doc for nsid, (_, doc) in docs.items()}
        return cls(root, documents, records, methods, fast)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._kinds)

    @property
    def record_nsids(self) -> frozenset[str]:
        return frozenset(self._records)

    def kind(self, nsid: str) -> str:
        """`record`, `query`, `procedure`, `subscription`, or `defs` (no main def)."""
        if nsid not in self._kinds:
            raise UnknownLexiconError(f"no lexicon {shown(nsid)} is loaded")
        return self._kinds[nsid]

    def validate_record(self, nsid: str, record: Any) -> list[ValidationIssue]:
        """Every problem (up to 50) with `record` as a `nsid` record; [] when it is valid."""
        check = self._records.get(nsid)
        if check is None:
            raise self._wrong_kind(nsid, "record")
        if not isinstance(record, dict):
            return [ValidationIssue("", f"a record must be a JSON object, got {json_type(record)}")]
        fast = self._fast.get(nsid)
        if fast is not None and fast(record):
            return []
        out = Issues()
        declared = record.get("$type", nsid)
        if declared != nsid:
            got = shown(declared) if isinstance(declared, str) else json_type(declared)
            out.append(ValidationIssue("$type", f"must be {nsid!r}, got {got}"))
        return _run(check, record, out)

    def certify_record(self, nsid: str, record: Any) -> bool:
        """True when `record` is certainly a valid `nsid` record made of canonical JSON
        values: `validate_record` would return [] and `canonicalize` would not refuse it
        (bar a lone surrogate in an undeclared field, which only the encoder finds). False
        means "not shown": run those for the reasons. One generated function, no issue list:
        the firehose's hot path."""
        fast = self._fast.get(nsid)
        return fast is not None and fast(record)

    def check_record(self, nsid: str, record: Any) -> None:
        """Raise `LexiconValidationError` (code `lexicon_invalid`) unless `record` is valid."""
        issues = self.validate_record(nsid, record)
        if issues:
            raise LexiconValidationError(nsid, issues)

    def validate_params(self, nsid: str, params: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """Coerce query-string params to their declared types; raise if any is invalid.

        Returns the declared params (with defaults filled in); undeclared ones are dropped.
        """
        method = self._method(nsid)
        if method.params is None:
            return {}
        out = Issues()
        try:
            result = method.params.coerce(params, out)
        except TooManyIssues:
            result = {}
        if out:
            raise LexiconValidationError(nsid, out)
        return result

    def validate_input(self, nsid: str, body: Any) -> list[ValidationIssue]:
        """Problems with a procedure's request body (`None` = no body)."""
        method = self._method(nsid)
        if method.kind != "procedure":
            raise self._wrong_kind(nsid, "procedure")
        return _body_issues(method.input, body, "input")

    def validate_output(self, nsid: str, body: Any) -> list[ValidationIssue]:
        """Problems with a query's or procedure's response body (`None` = no body)."""
        return _body_issues(self._method(nsid).output, body, "output")

    def _method(self, nsid: str) -> Method:
        method = self._methods.get(nsid)
        if method is None:
            raise self._wrong_kind(nsid, "query or procedure")
        return method

    def _wrong_kind(self, nsid: str, wanted: str) -> UnknownLexiconError:
        if nsid not in self._kinds:
            return UnknownLexiconError(f"no lexicon {shown(str(nsid))} is loaded")
        return UnknownLexiconError(
            f"{nsid} is a {self._kinds[nsid]}, not a {wanted}", code="lexicon_wrong_kind"
        )


def _kind(doc: Mapping[str, Any]) -> str:
    main = doc["defs"].get("main")
    return str(main["type"]) if main is not None else "defs"


def _body_issues(body: Body | None, value: Any, what: str) -> list[ValidationIssue]:
    if body is None:
        return [] if value is None else [ValidationIssue("", f"this method declares no {what}")]
    if body.check is None:  # not JSON (e.g. text/event-stream): nothing to check here
        return []
    return _run(body.check, value, Issues())


def _run(check: Check, value: Any, out: Issues) -> list[ValidationIssue]:
    with contextlib.suppress(TooManyIssues):  # the bound was hit; `out` holds what was found
        check(value, "", out)
    return list(out)


@functools.cache
def default_registry() -> LexiconRegistry:
    """The shipped lexicons, loaded once per process."""
    return LexiconRegistry.load()
