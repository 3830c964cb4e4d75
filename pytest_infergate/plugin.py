"""The pytest shell of pytest-infergate: options, markers and fixtures.

This module loads into every pytest run of our users, so it imports only pytest and the
option table. The gate (its session, the statistics, the reports) opens the first time
the run needs it: an ``--infer-*`` option or ``infer_*`` ini key is set, a collected test
uses ``infer_bench``, ``accuracy_eval`` or the ``infergate`` marker, the run is an xdist
controller or another run's companion. :mod:`pytest_infergate.gate_hooks` does the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_infergate.options import COMPANION_ENV, OPTIONS, Option, argparse_type

if TYPE_CHECKING:
    from pytest_infergate.bench import InferBench
    from pytest_infergate.evaluation import AccuracyEval
    from pytest_infergate.gate_hooks import GateHooks

_GATE_KEY = pytest.StashKey["GateHooks"]()

_MARKER_HELP = (
    "infergate(**settings): per-test gate settings, e.g. latency_tolerance=0.2, "
    "percentiles=('p50', 'p95'), warmup=10, warmup_s=0.5, min_samples=100, "
    "min_time_s=1.0, max_time_s=10, accuracy_tolerance=0.01, max_flip_rate=0.05, "
    "expect_providers=['CUDAExecutionProvider'], expect_quantized=True, "
    "expect_ops={'MatMulInteger': '>=1'}, trace=True"
)

#: The fixtures that make a test an infergate test, for --infer-only/--infer-skip.
GATE_FIXTURES = frozenset({"infer_bench", "accuracy_eval"})


def _add_option(group: pytest.OptionGroup, option: Option) -> None:
    """One row of :data:`~pytest_infergate.options.OPTIONS` as a command-line option; a
    switch defaults to ``None`` so that "not given" leaves the ini value in force."""
    help_text = option.describe(option.help)
    if option.switch:
        group.addoption(option.flag, action="store_true", default=None, help=help_text)
        return
    read = option.reader()
    kind = argparse_type(read) if read is not None else None
    group.addoption(option.flag, metavar=option.metavar, type=kind, help=help_text)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infergate", "inference latency and accuracy gate (pytest-infergate)")
    for option in OPTIONS:
        _add_option(group, option)
        if option.ini_help is not None:
            parser.addini(option.dest, option.describe(option.ini_help), type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    if config.getoption("infer_only", False) and config.getoption("infer_skip", False):
        raise pytest.UsageError(
            "infergate: --infer-only and --infer-skip exclude each other; give one of them"
        )
    if _configured(config) or _xdist_controller(config) or os.environ.get(COMPANION_ENV):
        gate(config)  # now: a bad option or baseline stops the run before it starts


def gate(config: pytest.Config) -> GateHooks:
    """The run's open gate, opened on first use."""
    hooks = config.stash.get(_GATE_KEY, None)
    if hooks is None:
        from pytest_infergate.gate_hooks import GateHooks

        hooks = config.stash[_GATE_KEY] = GateHooks.open(config)
    return hooks


def _configured(config: pytest.Config) -> bool:
    """Whether the command line or the ini file sets any gate option."""
    return any(
        (option.target != "hook" and config.getoption(option.dest, None) is not None)
        or (option.ini_help is not None and config.getini(option.dest))
        for option in OPTIONS
    )


def _xdist_controller(config: pytest.Config) -> bool:
    """An xdist controller runs no test itself; it merges what its workers measured."""
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--infer-only``/``--infer-skip`` skip (not deselect, as pytest-benchmark does) the
    tests that do not use / that use our fixtures; the gate opens when a test uses them
    or the ``infergate`` marker, which it validates."""
    only, skip = config.getoption("infer_only", False), config.getoption("infer_skip", False)
    uses_gate = []
    for item in items:
        gated = not GATE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        if only and not gated:
            item.add_marker(pytest.mark.skip(reason="infergate: not a gate test (--infer-only)"))
        elif skip and gated:
            item.add_marker(pytest.mark.skip(reason="infergate: a gate test (--infer-skip)"))
        if gated or item.get_closest_marker("infergate") is not None:
            uses_gate.append(item)
    if uses_gate:
        gate(config).read_markers(uses_gate)


@pytest.fixture
def infer_bench(request: pytest.FixtureRequest) -> Iterator[InferBench]:
    """Time a model call against the baseline: ``infer_bench(model, inputs)``, or two
    interleaved: ``infer_bench.compare(candidate, reference, args=(inputs,))``."""
    yield from gate(request.config).infer_bench(request)


@pytest.fixture
def accuracy_eval(request: pytest.FixtureRequest) -> Iterator[AccuracyEval]:
    """Evaluate a model on a data set slice against the baseline:
    ``accuracy_eval(model, data, metric="accuracy", limit=500)``."""
    yield from gate(request.config).accuracy_eval(request)
