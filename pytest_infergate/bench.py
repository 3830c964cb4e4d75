"""The object behind the ``infer_bench`` fixture: it checks the test's call and hands it
to :mod:`pytest_infergate.runs`, which times, judges and records it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from pytest_infergate.config import Settings
from pytest_infergate.measure.ab import AbCall
from pytest_infergate.measure.fresh import FreshCall, setup_problem
from pytest_infergate.measure.progress import ProgressFactory
from pytest_infergate.measure.timed_call import TimedCall
from pytest_infergate.measure.timing import refuse_lazy, resolve_sync, resolve_timer
from pytest_infergate.options import parse_fraction
from pytest_infergate.results import (
    ComparisonResult,
    FixedGates,
    LatencyResult,
    SweepPoint,
    SweepResult,
)
from pytest_infergate.runs import BenchContext, Measured
from pytest_infergate.runs.ab import measure_ab
from pytest_infergate.runs.latency import measure_latency
from pytest_infergate.session import GateSession
from pytest_infergate.usage import (
    check_batch_size,
    check_flag,
    check_min_speedup,
    fail_with,
    lazy_calls_fail,
    problem_at,
    require_callable,
)


class InferBench:
    """Times model calls for one test: ``infer_bench(fn, *args)``, ``infer_bench.measure(...)``
    or ``infer_bench.compare(candidate, reference, ...)``.

    Each measurement is compared with the baseline at once; a regression fails
    the test right there, naming the baseline, the current value and the option
    that re-records it.
    """

    def __init__(
        self,
        session: GateSession,
        nodeid: str,
        marker: Settings,
        progress: ProgressFactory | None = None,
    ) -> None:
        self._session = session
        self._nodeid = nodeid
        self._marker = marker
        self._keys: set[str] = set()
        self._context = BenchContext(session, nodeid, progress)

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        model: object = None,
        setup: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Time ``fn(*args, **kwargs)`` with the default settings; return its last value.

        ``model`` is the object whose runtime facts are recorded and checked against
        ``expect_*`` settings (default: ``fn``, or the object ``fn`` is bound to, such
        as the ``InferenceSession`` of ``session.run``). ``setup`` makes fresh inputs
        before every call, untimed: ``fn(*setup())`` (:mod:`.measure.fresh`). A keyword
        argument of ``fn`` named ``model`` or ``setup`` must go through
        ``measure(kwargs=...)``."""
        __tracebackhide__ = True
        require_callable("infer_bench()", "the first argument", fn)
        asked = _Asked(fn, args, kwargs, model=model, setup=setup, where="infer_bench()")
        measured = self._measure(asked, self._context)
        fail_with(measured.failure)
        return measured.value

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
        model: object = None,
        expect_providers: Sequence[str] | None = None,
        expect_quantized: bool | None = None,
        expect_ops: Mapping[str, str | int] | None = None,
        timer: str = "perf_counter",
        setup: Callable[[], Any] | None = None,
    ) -> LatencyResult:
        """Time ``fn(*args, **kwargs)`` and return the :class:`LatencyResult`.

        ``name`` tells several measurements of one test apart (baseline key
        ``nodeid::name``); ``batch_size`` is the items per call, for throughput;
        ``sync`` (a callable or ``"cuda"``) runs before every clock read; by default it
        is ``torch.cuda.synchronize`` when an argument or the model is on a CUDA device
        (``sync="none"`` turns that off); ``model``
        is the object whose runtime facts are recorded (default: ``fn`` or the object
        it is bound to); ``expect_providers``/``expect_quantized``/``expect_ops`` are
        checked against them (NOT-APPLIED when unmet), as the marker keys are.
        ``timer="cuda_events"`` times each sample with CUDA events (GPU time of the
        current stream) instead of the wall clock. ``setup`` makes fresh inputs before
        every call, untimed, in place of ``args``: ``fn(*setup(), **kwargs)``, one call
        per sample (:mod:`.measure.fresh`).

        With a stored value for this machine, sampling is adaptive: it looks at 50,
        150, 300, 500 and 1000 samples and stops once the verdict is clear (or at
        ``max_time_s``); ``min_samples`` applies when there is nothing to decide
        against (a NEW entry, ``--infer-update-baseline``).
        """
        __tracebackhide__ = True
        where = "infer_bench.measure()"
        require_callable(where, "fn", fn)
        overrides = _overrides(
            where,
            warmup=warmup,
            min_samples=min_samples,
            max_time_s=max_time_s,
            expect_providers=expect_providers,
            expect_quantized=expect_quantized,
            expect_ops=expect_ops,
        )
        check_batch_size("measure", batch_size)
        asked = _Asked(
            fn, args, kwargs or {}, name, batch_size, overrides, sync, model, timer, setup, where
        )
        measured = self._measure(asked, self._context)
        fail_with(measured.failure)
        return measured.result

    def sweep(
        self,
        fn: Callable[..., Any],
        make_args: Callable[[int], tuple[Any, ...]],
        batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32),
        *,
        latency_budget_ms: float | None = None,
        name: str | None = None,
        max_time_s: float | None = None,
    ) -> SweepResult:
        """Measure ``fn(*make_args(batch_size))`` at each batch size: a batch-size search.

        Each point is an ordinary measurement (key ``nodeid::bs8``, or ``nodeid::NAME-bs8``),
        gated against the baseline like any other. The result names the batch size with
        the highest throughput whose p95 stays within ``latency_budget_ms``.

        Every point is measured before the sweep fails: a regression at batch 4 says
        little without batch 8 and 16 beside it (is it one size, or all of them?), so the
        failure comes after the last point and names each failing one, and every point
        is in the summary table.
        """
        __tracebackhide__ = True
        require_callable("infer_bench.sweep()", "fn", fn)
        require_callable("infer_bench.sweep()", "make_args", make_args)
        if not batch_sizes:
            raise ValueError("infer_bench.sweep(): batch_sizes is empty")
        for size in batch_sizes:
            check_batch_size("sweep", size)
        overrides = _overrides("infer_bench.sweep()", max_time_s=max_time_s)
        points = []
        failures = []
        context = replace(self._context, sweep_started=time.monotonic())
        for size in batch_sizes:
            label = f"bs{size}" if name is None else f"{name}-bs{size}"
            asked = _Asked(fn, make_args(size), {}, label, size, overrides)
            measured = self._measure(asked, context)
            if measured.failure is not None:
                failures.append(measured.failure)
            result = measured.result
            points.append(SweepPoint(size, result.p50_ms, result.p95_ms, result.throughput_per_s))
        if failures:
            heading = (
                f"infer_bench.sweep(): {len(failures)} of {len(points)} batch sizes failed "
                "(every size was measured; all are in the summary):"
            )
            fail_with("\n".join([heading, *failures]))
        return SweepResult(tuple(points), latency_budget_ms)

    def compare(
        self,
        candidate: Callable[..., Any],
        reference: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        reference_args: tuple[Any, ...] | None = None,
        reference_kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
        max_slowdown: float | str | None = None,
        min_speedup: float | None = None,
        batch_size: int = 1,
        warmup: int | None = None,
        max_time_s: float | None = None,
        sync: Callable[[], object] | str | None = None,
        model: object = None,
        reference_model: object = None,
        expect_providers: Sequence[str] | None = None,
        expect_quantized: bool | None = None,
        expect_ops: Mapping[str, str | int] | None = None,
        stored_ratio: bool = True,
    ) -> ComparisonResult:
        """Time ``candidate`` against ``reference`` interleaved, and gate their ratio.

        Both are called with ``args``/``kwargs`` (the reference with
        ``reference_args``/``reference_kwargs`` when given), alternately in ABBA
        blocks in this process, so the machine's drift falls on both alike. Gates,
        applied in every run, with or without a baseline file:

        * ``max_slowdown=0.1``: the candidate may be at most 10% slower than the
          reference (the default, from the latency tolerance, when neither is given);
        * ``min_speedup=1.5``: the candidate must stay at least 1.5x faster;
        * a ratio stored in the baseline (``--infer-update-baseline`` records it): the
          ratio may not get worse by more than the latency tolerance (twice that when
          it was stored on another machine), judged against the larger of its history's
          median and the newest record, so one record under load does not fail the
          next runs. ``stored_ratio=False`` keeps only the fixed gates: the ratio is
          neither checked against the baseline nor recorded in it.

        Sampling is sequential: looks at 50, 150 and 500 samples per arm, stopping as
        soon as every gate is decided; undecided at the cap is INCONCLUSIVE.

        ``model`` is the candidate's model, whose runtime facts are recorded and
        checked against ``expect_*`` settings (default: ``candidate`` or the object
        it is bound to); ``reference_model`` is the reference's, recorded too, so a
        changed reference and the operators that differ between the arms are shown.
        """
        __tracebackhide__ = True
        where = "infer_bench.compare()"
        for what, fn in (("candidate", candidate), ("reference", reference)):
            require_callable(where, what, fn)
        overrides = _overrides(
            where,
            warmup=warmup,
            max_time_s=max_time_s,
            expect_providers=expect_providers,
            expect_quantized=expect_quantized,
            expect_ops=expect_ops,
        )
        try:
            slowdown = None if max_slowdown is None else parse_fraction(max_slowdown)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        check_min_speedup(min_speedup)
        check_batch_size("compare", batch_size)
        check_flag("compare", "stored_ratio", stored_ratio)
        key = self._key(name)
        with lazy_calls_fail("compare"):
            refuse_lazy(candidate)
            refuse_lazy(reference)
        settings = self._session.config.resolve(overrides, self._marker)
        cand_kwargs = dict(kwargs or {})
        ref_args = args if reference_args is None else reference_args
        ref_kwargs = dict(cand_kwargs if reference_kwargs is None else reference_kwargs)
        involved = (*args, cand_kwargs, *ref_args, ref_kwargs, candidate, reference, model)
        sync_fn = resolve_sync(sync, involved)
        ab = AbCall(
            key,
            TimedCall(
                f"{key}::candidate", candidate, args, cand_kwargs, batch_size, sync_fn, model=model
            ),
            TimedCall(
                f"{key}::reference",
                reference,
                ref_args,
                ref_kwargs,
                batch_size,
                sync_fn,
                model=reference_model,
            ),
        )
        with lazy_calls_fail("compare"):
            result, failure = measure_ab(
                self._context, ab, settings, FixedGates(slowdown, min_speedup, stored_ratio)
            )
        fail_with(failure)
        return result

    def _key(self, name: str | None) -> str:
        key = self._nodeid if name is None else f"{self._nodeid}::{name}"
        if key in self._keys:
            hint = "pass a distinct name= to each" if name is None else f"name {name!r} is taken"
            raise ValueError(f"{key} was already measured in this test; {hint}")
        taken = self._session.claim(key, self._nodeid)
        if taken:
            pytest.fail(f"infer_bench: {taken}", pytrace=False)
        self._keys.add(key)
        return key

    def _measure(self, asked: _Asked, context: BenchContext) -> Measured:
        """Check ``asked``, resolve it into a :class:`TimedCall` and measure that."""
        __tracebackhide__ = True
        fresh = None
        if asked.setup is not None:
            session = self._session
            against = session.companion is not None or session.follower is not None
            problem = setup_problem(asked.setup, asked.args, against=against)
            fail_with(problem_at(asked.where, problem))
            fresh = FreshCall(asked.fn, asked.setup, asked.kwargs)
        with lazy_calls_fail("measure"):
            key = self._key(asked.name)
            refuse_lazy(asked.fn)
            settings = self._session.config.resolve(asked.overrides, self._marker)
            sync = resolve_sync(asked.sync, (*asked.args, asked.kwargs, asked.fn, asked.model))
            call = TimedCall(
                key,
                asked.fn,
                asked.args,
                asked.kwargs,
                asked.batch_size,
                sync,
                resolve_timer(asked.timer),
                asked.model,
                fresh,
            )
            return measure_latency(context, call, settings)


@dataclass(frozen=True)
class _Asked:
    """A latency measurement as the test asked for it, before it is resolved: ``where``
    names the fixture method in messages."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    name: str | None = None
    batch_size: int = 1
    overrides: Settings = field(default_factory=Settings)
    sync: Callable[[], object] | str | None = None
    model: object = None
    timer: str = "perf_counter"
    setup: Callable[[], Any] | None = None
    where: str = "infer_bench.measure()"


def _overrides(where: str, **values: object) -> Settings:
    """The settings a fixture method's keywords override (``None``: not overridden)."""
    try:
        return Settings.from_kwargs(values)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
