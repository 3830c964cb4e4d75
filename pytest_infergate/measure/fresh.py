"""Fresh inputs per call: ``infer_bench(fn, setup=make_inputs)``.

Some calls change their input (an in-place op, a KV cache that grows, a tokenizer
that consumes an iterator), so timing ``fn(x)`` a thousand times with one ``x``
times the wrong thing. With ``setup``, every call, warm-up ones included, gets what
one ``setup()`` call returned, made just before it and outside the clock reads:

* a tuple is the positional arguments: ``fn(*setup())``;
* ``None`` means no arguments: ``fn()`` (``setup`` only reset some state);
* any other value is the one argument: ``fn(setup())``; to pass a tuple as the one
  argument, return ``(t,)``.

Keyword arguments given to ``infer_bench`` are passed to every call unchanged. Each
sample is then one call (calls grouped for the clock would share one input), so a
call much shorter than the clock's resolution (~0.1 ms here) is measured less well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: Stands for "no input prepared yet": ``None`` is a valid setup result.
_NOTHING: Any = object()


class FreshCall:
    """``fn`` with a new ``setup()`` result each call: :meth:`prepare` makes it before
    the clock starts; a call without one (the off mode, a trace) makes its own."""

    def __init__(
        self, fn: Callable[..., Any], setup: Callable[[], Any], kwargs: Mapping[str, Any]
    ) -> None:
        self.fn = fn
        self._setup = setup
        self._kwargs = dict(kwargs)
        self._pending: Any = _NOTHING

    def prepare(self) -> None:
        """Make the next call's input (called by the timing loop, outside the timed region)."""
        self._pending = self._setup()

    def __call__(self) -> Any:
        if self._pending is _NOTHING:
            self.prepare()
        made, self._pending = self._pending, _NOTHING
        return self.fn(*as_args(made), **self._kwargs)


def as_args(made: object) -> tuple[Any, ...]:
    """The positional arguments one ``setup()`` result stands for (module docstring)."""
    if made is None:
        return ()
    if isinstance(made, tuple):
        return made
    return (made,)


def setup_problem(setup: object, args: tuple[Any, ...], *, against: bool) -> str | None:
    """Why ``setup`` cannot be used here, in a few words (``None``: it can)."""
    if not callable(setup):
        kind = type(setup).__name__
        return (
            f"setup must be a callable that returns the call's arguments, got an object of "
            f"type {kind}; pass a function, e.g. setup=lambda: (make_inputs(),)"
        )
    if args:
        return (
            "setup= makes the call's positional arguments; pass them from setup, not also "
            "after fn (keyword arguments may stay)"
        )
    if against:
        return (
            "setup= cannot run under --infer-against: the lock-step pairing times both "
            "revisions' calls back to back with one input each; leave --infer-against "
            "out for this test, or time the call without setup"
        )
    return None
