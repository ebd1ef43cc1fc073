"""Wrap a grpc.aio method handler's behaviour in an async context manager (for interceptors)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

# Built per call from the servicer context and the method's full name ("/pkg.Svc/Method").
Guard = Callable[[Any, str], AbstractAsyncContextManager[None]]
_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")


def wrap_handler(handler: Any, method: str, guard: Guard) -> Any:
    """Return `handler` with its behaviour running inside `guard(context, method)`."""
    if handler is None:
        return None
    for kind in _KINDS:
        behavior = getattr(handler, kind)
        if behavior is not None:
            return handler._replace(**{kind: _wrap(behavior, method, guard)})
    return handler


def _wrap(behavior: Callable[..., Any], method: str, guard: Guard) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(behavior):
        return _wrap_generator(behavior, method, guard)
    if inspect.iscoroutinefunction(behavior):
        return _wrap_coroutine(behavior, method, guard)
    # A sync handler would run on grpc's thread pool, outside these guards: refuse it.
    raise TypeError(f"{method}: cocore servicers must be `async def` (got {behavior!r})")


def _wrap_coroutine(
    behavior: Callable[[Any, Any], Awaitable[Any]], method: str, guard: Guard
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def guarded(request: Any, context: Any) -> Any:
        async with guard(context, method):
            return await behavior(request, context)

    return guarded


def _wrap_generator(
    behavior: Callable[[Any, Any], AsyncIterator[Any]], method: str, guard: Guard
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def guarded(request: Any, context: Any) -> AsyncIterator[Any]:
        async with guard(context, method):
            async for response in behavior(request, context):
                yield response

    return guarded


class GuardInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Runs every handler inside `self.guard(context, method)`; wrapped handlers are cached."""

    def __init__(self) -> None:
        # method -> (handler as found, handler as wrapped); reused while the handler is the same.
        self._cache: dict[str, tuple[Any, Any]] = {}

    def guard(self, context: Any, method: str) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], handler_call_details: Any
    ) -> Any:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        cached = self._cache.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = wrap_handler(handler, method, self.guard)
        if handler is not None:
            self._cache[method] = (handler, wrapped)
        return wrapped
