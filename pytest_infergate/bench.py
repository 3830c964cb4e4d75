"""The object behind the ``infer_bench`` fixture: time a call, record it, gate it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_infergate.config import Mode, Settings
from pytest_infergate.results import LatencyResult
from pytest_infergate.session import GateSession
from pytest_infergate.timing import SamplingPlan, Timing, resolve_sync, run


class InferBench:
    """Times model calls for one test: ``infer_bench(fn, *args)`` or ``infer_bench.measure(...)``.

    Each measurement is compared with the baseline at once; a regression fails
    the test right there, naming the baseline, the current value and the option
    that re-records it.
    """

    def __init__(self, session: GateSession, nodeid: str, marker: Settings) -> None:
        self._session = session
        self._nodeid = nodeid
        self._marker = marker
        self._keys: set[str] = set()

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Time ``fn(*args, **kwargs)`` with the default settings; return its last value."""
        __tracebackhide__ = True
        _, value = self._measure(fn, args, kwargs, name=None, batch_size=1, overrides=Settings())
        return value

    def measure(
        self,
        fn: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
        batch_size: int = 1,
        warmup: int | None = None,
        min_samples: int | None = None,
        max_time_s: float | None = None,
        sync: Callable[[], object] | str | None = None,
    ) -> LatencyResult:
        """Time ``fn(*args, **kwargs)`` and return the :class:`LatencyResult`.

        ``name`` tells several measurements of one test apart (baseline key
        ``nodeid::name``); ``batch_size`` is the items per call, for throughput;
        ``sync`` (a callable or ``"cuda"``) runs before every clock read.
        """
        __tracebackhide__ = True
        try:
            overrides = Settings.from_kwargs(
                {"warmup": warmup, "min_samples": min_samples, "max_time_s": max_time_s}
            )
        except ValueError as exc:
            raise ValueError(f"infer_bench.measure(): {exc}") from None
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"infer_bench.measure(): batch_size must be an int >= 1, got {batch_size!r}"
            )
        result, _ = self._measure(
            fn, args, kwargs or {}, name=name, batch_size=batch_size, overrides=overrides, sync=sync
        )
        return result

    def _key(self, name: str | None) -> str:
        key = self._nodeid if name is None else f"{self._nodeid}::{name}"
        if key in self._keys:
            hint = "pass a distinct name= to each" if name is None else f"name {name!r} is taken"
            raise ValueError(f"{key} was already measured in this test; {hint}")
        self._keys.add(key)
        return key

    def _measure(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        name: str | None,
        batch_size: int,
        overrides: Settings,
        sync: Callable[[], object] | str | None = None,
    ) -> tuple[LatencyResult, Any]:
        __tracebackhide__ = True
        key = self._key(name)
        settings = self._session.config.resolve(overrides, self._marker)
        sync_fn = resolve_sync(sync)
        if self._session.config.mode is Mode.OFF:
            timing = run(fn, args, kwargs, plan=_ONE_CALL, sync=sync_fn)
            return _result(key, timing, batch_size), timing.last_value
        timing = run(fn, args, kwargs, plan=settings.plan(), sync=sync_fn)
        result = _result(key, timing, batch_size)
        measurement = self._session.record(self._nodeid, result, settings)
        if self._session.fails(measurement.verdict):
            verdict = measurement.verdict
            pytest.fail(
                f"{key}: latency {verdict.outcome.value}: {verdict.reason or 'see the summary'}. "
                "If this change is expected, re-record with --infer-update-baseline.",
                pytrace=False,
            )
        return result, timing.last_value


_ONE_CALL = SamplingPlan(warmup_calls=0, warmup_s=0, min_samples=1, min_time_s=0, max_time_s=1e-9)


def _result(key: str, timing: Timing, batch_size: int) -> LatencyResult:
    return LatencyResult(
        key=key,
        samples_ns=timing.samples_ns,
        batch_size=batch_size,
        calls_per_sample=timing.calls_per_sample,
        warmup_calls=timing.warmup_calls,
        measured_s=timing.measured_s,
    )
