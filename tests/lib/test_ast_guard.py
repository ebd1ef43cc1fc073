"""The test process's `ast.parse` guard (tests/fixtures/ast_guard.py) closes CPython 3.11's
AST-constructor race: the same threads that break the unguarded parse run clean through it,
and a parse leaves collection as it found it."""

from __future__ import annotations

import ast
import gc
import inspect
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures import ast_guard

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="fixed in CPython 3.12")
SOURCE = inspect.getsource(threading)


class _Cycle:
    """Cyclic garbage with a finalizer: collected mid-parse, it runs Python code there (a
    chance for the interpreter to switch threads inside the AST constructor)."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        sum(range(50))


def _race(parse: Callable[[str], Any], seconds: float, threads: int = 3) -> list[BaseException]:
    errors: list[BaseException] = []

    def work() -> None:
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end and not errors:
                for _ in range(200):
                    _Cycle()
                parse(SOURCE)
        except SystemError as e:
            errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def test_the_guard_is_installed_for_the_whole_test_process() -> None:
    assert ast_guard.installed()
    assert ast.literal_eval("[1, 2.5]") == [1, 2.5]  # still parses, through the guard
    assert gc.isenabled()
    gc.disable()
    try:
        ast.parse("x = 1")
        assert not gc.isenabled()  # a caller's own disabling is kept
    finally:
        gc.enable()


def test_unguarded_parses_race_and_the_guard_closes_the_race() -> None:
    unguarded = _race(ast_guard.original_parse(), seconds=6.0)
    if not unguarded:
        pytest.skip("the race did not show unguarded on this run: nothing to compare")
    assert "recursion depth mismatch" in str(unguarded[0])
    assert _race(ast.parse, seconds=3.0) == []
