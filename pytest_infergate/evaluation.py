"""The object behind the ``accuracy_eval`` fixture: evaluate on a slice, record it, gate it.

The evaluation itself is :func:`pytest_infergate.measure.accuracy.evaluate_accuracy` (pure);
this module adds the pytest side: keys per test, settings layers, failing the
test with a one-line message, and a progress line for long evaluations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

import pytest

from pytest_infergate.config import Mode, Settings
from pytest_infergate.judge.accuracy import compare_accuracy
from pytest_infergate.judge.messages import failure_message
from pytest_infergate.measure.accuracy import AccuracyError, EvaluationRequest, evaluate_accuracy
from pytest_infergate.measure.progress import terminal_of
from pytest_infergate.measure.provenance import measured_facts
from pytest_infergate.results import AccuracyResult, Observed
from pytest_infergate.session import GateSession
from pytest_infergate.store.baseline import Baseline
from pytest_infergate.verdicts import Verdict

if TYPE_CHECKING:
    from pytest_infergate.against.revision import Revision


class ProgressLine:
    """A one-line progress report (done/total, rate, time left) that appears only once an
    evaluation has run for ``delay_s``: short evaluations stay silent."""

    def __init__(
        self,
        label: str,
        write: Callable[[str], None],
        *,
        delay_s: float = 2.0,
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._write = write
        self._delay_s = delay_s
        self._interval_s = interval_s
        self._clock = clock
        self._start = clock()
        self._last = -math.inf
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        elapsed = now - self._start
        shown = self._width > 0
        if elapsed < self._delay_s or (not shown and done >= total):
            return
        if now - self._last < self._interval_s and done < total:
            return
        self._last = now
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f"{(total - done) / rate:.0f} s left" if rate > 0 else "..."
        text = f"{self._label}: {done}/{total} examples, {rate:.0f}/s, {left}"
        # A fresh line the first time: the test's own status line is mid-way on this one.
        self._write(("\r" if shown else "\n") + text.ljust(self._width))
        self._width = max(self._width, len(text))

    def close(self) -> None:
        """Erase the line, so the test's outcome prints where it would have."""
        if self._width:
            self._write("\r" + " " * self._width + "\r")
            self._width = 0


class AccuracyEval:
    """Evaluates models for one test: ``accuracy_eval(model, data, limit=500)``.

    Each evaluation is compared with the baseline at once; a regression fails the
    test right there, naming the baseline, the current value, the test behind the
    decision and the option that re-records it. The evaluated model's runtime facts
    are recorded and checked, as ``infer_bench`` does: an accuracy figure of the
    wrong runtime (a float graph meant to be int8) is NOT-APPLIED, not PASS.
    """

    def __init__(
        self,
        session: GateSession,
        nodeid: str,
        marker: Settings,
        progress: Callable[[str], ProgressLine | None] | None = None,
    ) -> None:
        self._session = session
        self._nodeid = nodeid
        self._marker = marker
        self._progress = progress
        self._keys: set[str] = set()

    def __call__(
        self,
        model: object,
        data: object,
        *,
        name: str | None = None,
        metric: object = "accuracy",
        input_column: str = "text",
        label_column: str = "label",
        limit: int | None = None,
        sample: str = "head",
        seed: int = 0,
        batch_size: int = 32,
        label_map: object = None,
        tolerance: float | str | None = None,
        runtime_model: object = None,
        expect_providers: Sequence[str] | None = None,
        expect_quantized: bool | None = None,
        expect_ops: Mapping[str, str | int] | None = None,
    ) -> AccuracyResult:
        """Evaluate ``model`` on a slice of ``data``, gate the metric, return the result.

        ``name`` tells several evaluations of one test apart (baseline key
        ``nodeid::name``); ``tolerance`` is the absolute drop allowed (0.01 = one
        point) and overrides the marker and ini. ``runtime_model`` is the object whose
        runtime facts are recorded when ``model`` hides it (a plain function around a
        session); default: the pipeline, the head of a ``(model, tokenizer)`` or
        ``(session, preprocess)`` tuple, or the object a bound method belongs to.
        ``expect_providers``/``expect_quantized``/``expect_ops`` are checked against
        those facts (NOT-APPLIED when unmet), as the marker keys are. See
        :func:`pytest_infergate.measure.accuracy.evaluate_accuracy` for the rest.
        """
        __tracebackhide__ = True
        key = self._key(name)
        try:
            overrides = Settings.given(
                accuracy_tolerance=tolerance,
                expect_providers=expect_providers,
                expect_quantized=expect_quantized,
                expect_ops=expect_ops,
            )
        except ValueError as exc:
            _fail(f"{key}: accuracy_eval(): {exc}")
        settings = self._session.config.resolve(overrides, self._marker)
        progress = self._progress(key) if self._progress is not None else None
        try:
            request = EvaluationRequest(
                metric, input_column, label_column, limit, sample, seed, batch_size, label_map
            )
            result = evaluate_accuracy(model, data, request, key=key, progress=progress)
        except AccuracyError as exc:
            _fail(f"{key}: accuracy_eval(): {exc}")
        finally:
            if progress is not None:
                progress.close()
        if self._session.config.mode is Mode.OFF:
            return result
        follower, companion = self._session.follower, self._session.companion
        if follower is not None:
            follower.offer_accuracy(key, self._nodeid, result)
            return result
        facts = measured_facts(model, runtime_model)  # after the evaluation: not in predict_s
        other = companion.accuracy(key, self._nodeid) if companion is not None else None
        try:
            if other is not None and companion is not None:
                verdict = against_revision(result, other, settings, companion.revision)
            else:
                verdict = None
            observed = Observed(facts=facts)
            measurement = self._session.record(self._nodeid, result, settings, observed, verdict)
        except ValueError as exc:
            _fail(f"accuracy_eval(): {exc}")
        if self._session.fails(measurement.verdict):
            pytest.fail(failure_message(key, "accuracy", measurement.verdict), pytrace=False)
        return result

    def _key(self, name: str | None) -> str:
        __tracebackhide__ = True
        if name is not None and (not isinstance(name, str) or not name):
            pytest.fail(
                f"accuracy_eval(): name must be a non-empty string, got {name!r}", pytrace=False
            )
        key = self._nodeid if name is None else f"{self._nodeid}::{name}"
        if key in self._keys:
            hint = "pass a distinct name= to each" if name is None else f"name {name!r} is taken"
            pytest.fail(f"{key} was already evaluated in this test; {hint}", pytrace=False)
        taken = self._session.claim(key, self._nodeid)
        if taken:
            pytest.fail(f"accuracy_eval(): {taken}", pytrace=False)
        self._keys.add(key)
        return key


def against_revision(
    result: AccuracyResult, other: AccuracyResult, settings: Settings, revision: Revision
) -> Verdict:
    """``result`` judged against the other revision's evaluation of the same slice, as
    against a stored entry: paired McNemar on the two prediction vectors, the flip rate."""
    entry = Baseline().with_accuracy(other, recorded_at="").entries[other.key]
    verdict = compare_accuracy(result, entry, settings.accuracy_policy())
    return replace(verdict, reason=f"{verdict.reason}; vs {revision.label} ({revision.spec})")


def _fail(message: str) -> NoReturn:
    """Fail the test with ``message`` alone: no traceback, and no "during handling of the
    above exception" chain from the usage error it replaces."""
    __tracebackhide__ = True
    failure = pytest.fail.Exception(message, pytrace=False)
    failure.__suppress_context__ = True
    raise failure


def terminal_progress(config: pytest.Config) -> Callable[[str], ProgressLine | None] | None:
    """A progress-line factory writing past pytest's output capture, or ``None`` when no
    person is watching (no terminal, ``-q``, CI, an xdist worker)."""
    terminal = terminal_of(config)
    if terminal is None:
        return None
    return lambda key: ProgressLine(f"accuracy_eval {key}", terminal.write)
