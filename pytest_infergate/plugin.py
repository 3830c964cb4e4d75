"""pytest hooks and fixtures for pytest-infergate: thin adapters over :class:`GateSession`.

Importing this module must stay cheap (it loads in every pytest run of our
users): no numpy, scipy or ML library here or in what it imports at module level.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import pytest

from pytest_infergate.against import hooks as against
from pytest_infergate.against.channel import ChannelError
from pytest_infergate.against.link import Follower
from pytest_infergate.config import GateConfig, Mode, Settings, gate_config_from_options
from pytest_infergate.distributed import XdistHooks
from pytest_infergate.measure.progress import sampling_progress
from pytest_infergate.options import OPTIONS, Option, argparse_type
from pytest_infergate.report.junit import junit_properties
from pytest_infergate.report.session_summary import write_summary
from pytest_infergate.session import FinishReport, GateSession
from pytest_infergate.store.baseline import BaselineError

if TYPE_CHECKING:
    from pytest_infergate.bench import InferBench
    from pytest_infergate.evaluation import AccuracyEval

_SESSION_KEY = pytest.StashKey[GateSession]()
_FINISH_KEY = pytest.StashKey[FinishReport]()
_MARKER_KEY = pytest.StashKey[Settings]()
_MARKER_ERROR_KEY = pytest.StashKey[str]()
_REPORTS_KEY = pytest.StashKey[list[str]]()
_XDIST_KEY = pytest.StashKey[XdistHooks]()

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
    follower = against.follower_spec()
    session = _open_session(config, follower)
    gate_config = session.config
    if follower:
        _serve_as_companion(config, session, follower)
    elif gate_config.against:
        leader = against.LeaderHooks(session, gate_config.against, gate_config.against_python)
        config.pluginmanager.register(leader, "infergate-against")
    missing = session.missing_baseline_problem()
    if missing and gate_config.strict and gate_config.mode is Mode.GATE:
        raise pytest.UsageError(f"infergate: {missing} (--infer-strict fails NEW entries)")
    config.stash[_SESSION_KEY] = session
    config.pluginmanager.register(_TestOutcomes(session), "infergate-outcomes")
    if config.pluginmanager.hasplugin("xdist"):
        config.stash[_XDIST_KEY] = XdistHooks(config, session)
        config.pluginmanager.register(config.stash[_XDIST_KEY], "infergate-xdist")


def _open_session(config: pytest.Config, follower: str) -> GateSession:
    """The run's :class:`GateSession`; a bad option or baseline is a usage error."""
    try:
        ini_dir = config.inipath.parent if config.inipath else None
        gate_config: GateConfig = gate_config_from_options(config.getoption, config.getini, ini_dir)
        if gate_config.html_path is not None:
            _require_matplotlib()
        if follower:
            gate_config = against.as_companion(gate_config)
        elif gate_config.against:
            against.refuse_unpairable(config, gate_config)
        return GateSession.open(gate_config)
    except (BaselineError, ValueError) as exc:
        raise pytest.UsageError(f"infergate: {exc}") from None


def _serve_as_companion(config: pytest.Config, session: GateSession, spec: str) -> None:
    """This process is another run's companion (:mod:`pytest_infergate.against`)."""
    try:
        follower, order = Follower.connect(spec)
    except (OSError, ValueError, ChannelError) as exc:
        raise pytest.UsageError(f"infergate: companion cannot reach its leader: {exc}") from None
    session.follower = follower
    config.pluginmanager.register(against.FollowerHooks(follower, order), "infergate-companion")


def _require_matplotlib() -> None:
    """Fail at start-up, not after the whole run, when the HTML report cannot be drawn."""
    if find_spec("matplotlib") is None:
        raise pytest.UsageError(
            "infergate: --infer-html (ini: infer_html) needs matplotlib: "
            "pip install pytest-infergate[report]"
        )


def get_session(config: pytest.Config) -> GateSession:
    """The session's :class:`GateSession`."""
    return config.stash[_SESSION_KEY]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate each test's ``infergate`` markers once. A bad marker fails that test
    alone, at its setup: failing the session would stop every other test too, even
    when the marked one is deselected. ``--infer-only``/``--infer-skip`` skip (not
    deselect, as pytest-benchmark does) the tests that do not use / that use our fixtures."""
    only, skip = config.getoption("infer_only", False), config.getoption("infer_skip", False)
    for item in items:
        gated = not GATE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        if only and not gated:
            item.add_marker(pytest.mark.skip(reason="infergate: not a gate test (--infer-only)"))
        elif skip and gated:
            item.add_marker(pytest.mark.skip(reason="infergate: a gate test (--infer-skip)"))
        _read_marker(item)


def _read_marker(item: pytest.Item) -> None:
    """Stash the test's marker settings, or why they are wrong."""
    kwargs: dict[str, Any] = {}
    problem = ""
    for marker in reversed(list(item.iter_markers("infergate"))):
        if marker.args:
            problem = "takes keyword arguments only, e.g. latency_tolerance=0.2"
        kwargs.update(marker.kwargs)
    if not problem:
        try:
            item.stash[_MARKER_KEY] = Settings.from_kwargs(kwargs)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        item.stash[_MARKER_ERROR_KEY] = f"infergate: @pytest.mark.infergate: {problem}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test with a bad ``infergate`` marker before its fixtures are built."""
    problem = item.stash.get(_MARKER_ERROR_KEY, "")
    if problem:
        pytest.fail(problem, pytrace=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the stored checks the selected tests will make: they share the session's
    false-alarm rate."""
    gate = session.config.stash.get(_SESSION_KEY, None)
    if gate is not None:
        gate.plan_checks([item.nodeid for item in session.items])


@pytest.fixture
def infer_bench(request: pytest.FixtureRequest) -> Iterator[InferBench]:
    """Time a model call against the baseline: ``infer_bench(model, inputs)``, or two
    interleaved: ``infer_bench.compare(candidate, reference, args=(inputs,))``."""
    # Here, not at the top: a run that measures nothing does not pay for importing them.
    from pytest_infergate.bench import InferBench

    marker = request.node.stash.get(_MARKER_KEY, Settings())
    progress = sampling_progress(request.config)
    yield InferBench(get_session(request.config), request.node.nodeid, marker, progress)
    _record_properties(request)


@pytest.fixture
def accuracy_eval(request: pytest.FixtureRequest) -> Iterator[AccuracyEval]:
    """Evaluate a model on a data set slice against the baseline:
    ``accuracy_eval(model, data, metric="accuracy", limit=500)``."""
    from pytest_infergate.evaluation import AccuracyEval, terminal_progress

    marker = request.node.stash.get(_MARKER_KEY, Settings())
    progress = terminal_progress(request.config)
    yield AccuracyEval(get_session(request.config), request.node.nodeid, marker, progress)
    _record_properties(request)


def _record_properties(request: pytest.FixtureRequest) -> None:
    """Attach the test's measurements' key figures for ``--junitxml``."""
    session = get_session(request.config)
    known = {name for name, _ in request.node.user_properties}
    for prop in junit_properties(session.measurements, request.node.nodeid):
        if prop[0] not in known:
            request.node.user_properties.append(prop)


class _TestOutcomes:
    """Notes the tests whose measurements a baseline update must not record."""

    def __init__(self, gate: GateSession) -> None:
        self._gate = gate

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        why = _unrecordable(report)
        if why:
            self._gate.exclude(report.nodeid, why)


def _unrecordable(report: pytest.TestReport) -> str:
    """Why ``report`` makes its test's measurements unfit for the baseline ("" if not)."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else f"failed in {report.when}"
    if report.skipped:
        return "skipped"
    return ""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    gate = session.config.stash.get(_SESSION_KEY, None)
    if gate is None or hasattr(session.config, "workerinput"):
        return  # an xdist worker publishes its measurements; the controller writes
    report = gate.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    session.config.stash[_FINISH_KEY] = report
    if report.interrupted:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    elif report.failures:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    elif gate.collisions and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _write_reports(session, gate)


def _write_reports(session: pytest.Session, gate: GateSession) -> None:
    """The Markdown and HTML reports asked for (not on xdist workers, not in off mode);
    a report that cannot be written makes the run a usage error, as the results file does."""
    config = session.config
    markdown, html, csv = gate.config.markdown_path, gate.config.html_path, gate.config.csv_path
    if hasattr(config, "workerinput") or gate.config.mode is Mode.OFF:
        return
    step_summary = bool(os.environ.get("GITHUB_STEP_SUMMARY")) and bool(gate.measurements)
    if not (markdown or html or csv or step_summary):
        return
    from pytest_infergate.report.files import write_reports  # HTML and Markdown renderers

    try:
        written = write_reports(
            gate.results(),
            markdown=markdown,
            html=html,
            csv=csv,
            environ=os.environ,
            baseline=gate.baseline,
        )
    except OSError as exc:
        config.stash[_REPORTS_KEY] = [f"writing the reports failed: {exc}"]
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    config.stash[_REPORTS_KEY] = [f"report written to {path}" for path in written]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    gate = config.stash.get(_SESSION_KEY, None)
    if gate is None or gate.config.mode is Mode.OFF or not gate.measurements:
        return
    reports: list[str] = config.stash.get(_REPORTS_KEY, [])
    write_summary(
        terminalreporter,
        gate,
        quiet=config.get_verbosity() < 0,
        xdist=config.stash.get(_XDIST_KEY, None),
        finish=config.stash.get(_FINISH_KEY, None),
        reports=reports,
    )
