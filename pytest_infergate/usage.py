"""How ``infer_bench`` tells a test its own call is wrong: one line, no traceback.

The fixture (:mod:`pytest_infergate.bench`) checks a call with these before it hands it on.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import pytest

from pytest_infergate.measure.timing import LazyCallError

#: Methods that usually run a model, in the order they are suggested for a model object
#: passed where its call belongs (``session`` for ``session.run``).
CALL_METHODS = ("run", "predict", "forward", "infer", "generate", "transform")


def require_callable(where: str, what: str, value: object) -> None:
    """Fail the test in one line when ``value`` cannot be called: the usual slip is the
    model object (an ``InferenceSession``) where its method (``session.run``) belongs,
    and the ``TypeError`` from deep inside the timing loop names neither."""
    __tracebackhide__ = True
    if callable(value):
        return
    kind = type(value).__name__
    message = f"{where}: {what} must be callable, got an object of type {kind}"
    method = next((m for m in CALL_METHODS if callable(getattr(value, m, None))), None)
    if method is not None:
        name = "session" if kind.lower().endswith("session") else "model"
        message += f"; pass {name}.{method} (its {method} method), not the {name} itself"
    else:
        message += "; pass the function that runs the model (e.g. session.run, or a lambda)"
    pytest.fail(message, pytrace=False)


def problem_at(where: str, problem: str | None) -> str | None:
    """``problem`` as the one line a test fails with, naming the call at fault."""
    return None if problem is None else f"{where}: {problem}"


def fail_with(failure: str | None) -> None:
    """Fail the calling test with ``failure`` (no traceback: the message says it all)."""
    __tracebackhide__ = True
    if failure is not None:
        pytest.fail(failure, pytrace=False)


@contextlib.contextmanager
def lazy_calls_fail(method: str) -> Iterator[None]:
    """Fail the test in one line when the timed function only creates a generator or
    coroutine (:func:`pytest_infergate.measure.timing.refuse_lazy`)."""
    __tracebackhide__ = True
    try:
        yield
    except LazyCallError as exc:
        pytest.fail(f"infer_bench.{method}(): {exc}", pytrace=False)


def check_batch_size(method: str, batch_size: object) -> None:
    """Refuse a batch size that is not a whole number of items (``True`` is no size)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"infer_bench.{method}(): batch_size must be an int >= 1, got {batch_size!r}"
        )


def check_min_speedup(min_speedup: object) -> None:
    """Refuse a required speedup that is not a finite number above zero."""
    if min_speedup is not None and (
        isinstance(min_speedup, bool)
        or not isinstance(min_speedup, (int, float))
        or not math.isfinite(min_speedup)
        or min_speedup <= 0
    ):
        raise ValueError(
            f"infer_bench.compare(): min_speedup must be a number > 0, got {min_speedup!r}"
        )


def check_flag(method: str, name: str, value: object) -> None:
    """Refuse a switch that is not ``True`` or ``False`` (a truthy string is no answer)."""
    if not isinstance(value, bool):
        raise ValueError(f"infer_bench.{method}(): {name} must be True or False, got {value!r}")
