"""Refusing a timed call that only creates a generator or coroutine: its body would never
run inside the timed loop, and the figures would time its creation."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


class LazyCallError(TypeError):
    """The timed function only creates a generator or coroutine: its work is not timed."""


def refuse_lazy(fn: Callable[..., Any]) -> None:
    """Refuse a generator or ``async def`` function: calling one only creates the
    generator or coroutine, so its body would never run inside the timed loop."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        raise LazyCallError(
            f"{_name(fn)} is an async function: calling it only creates a coroutine, so its "
            "body would not be timed; time a synchronous call, e.g. "
            "lambda: asyncio.run(fn(x)), or the model call inside it"
        )
    if inspect.isgeneratorfunction(target):
        raise LazyCallError(
            f"{_name(fn)} is a generator function: calling it only creates a generator, so "
            "its body would not be timed; time a call that consumes it, e.g. "
            "lambda: list(fn(x))"
        )


def refuse_lazy_value(value: object) -> None:
    """Refuse a call whose value is an unstarted coroutine or generator (a lambda over
    an ``async def`` function, say): what was timed is its creation only."""
    kind = (
        "a coroutine"
        if inspect.iscoroutine(value)
        else "an async generator"
        if inspect.isasyncgen(value)
        else "a generator"
        if inspect.isgenerator(value)
        else None
    )
    if kind is None:
        return
    close = getattr(value, "close", None)
    if callable(close) and not inspect.isasyncgen(value):
        close()  # no "coroutine was never awaited" warning on top of the error
    raise LazyCallError(
        f"the timed call returned {kind}, so only its creation would be timed, not its "
        "body; time a call that runs it to the end (asyncio.run(...), list(...))"
    )


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__
