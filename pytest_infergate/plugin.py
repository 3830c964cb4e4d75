"""pytest hooks and fixtures for pytest-infergate: thin adapters over :class:`GateSession`.

Importing this module must stay cheap (it loads in every pytest run of our
users): no numpy, scipy or ML library here or in what it imports at module level.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import pytest

from pytest_infergate.config import (
    Mode,
    Settings,
    gate_config_from_options,
    parse_mode,
    parse_seconds,
    parse_share,
    parse_tolerances,
)
from pytest_infergate.store.baseline import BaselineError

if TYPE_CHECKING:
    from pytest_infergate.bench import InferBench
    from pytest_infergate.distributed import XdistHooks
    from pytest_infergate.evaluation import AccuracyEval
    from pytest_infergate.session import FinishReport, GateSession

_SESSION_KEY = pytest.StashKey["GateSession"]()
_FINISH_KEY: pytest.StashKey[FinishReport] = pytest.StashKey()
_MARKER_KEY = pytest.StashKey[Settings]()
_MARKER_ERROR_KEY = pytest.StashKey[str]()
_REPORTS_KEY = pytest.StashKey["list[str]"]()
_XDIST_KEY = pytest.StashKey["XdistHooks"]()


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Adapt a validator so argparse shows its message, not "invalid value"."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infergate", "inference latency and accuracy gate (pytest-infergate)")
    group.addoption(
        "--infer-baseline",
        metavar="PATH",
        help="Baseline JSON to gate against (ini: infer_baseline)",
    )
    group.addoption(
        "--infer-update-baseline",
        action="store_true",
        help="Re-record the baseline entries of the tests that ran; never fail on a change",
    )
    group.addoption(
        "--infer-strict",
        action="store_true",
        default=None,
        help="Fail on NEW, INCONCLUSIVE and NO-BASELINE-FOR-MACHINE verdicts too, and on a "
        "missing baseline file (ini: infer_strict)",
    )
    group.addoption(
        "--infer-latency-tolerance",
        metavar="FRACTION",
        type=_argtype(parse_tolerances),
        help="Allowed p50 slowdown, e.g. 0.1 or 10%%; tails get more (p95: 2x). Default: 0.1",
    )
    group.addoption(
        "--infer-max-time",
        metavar="SECONDS",
        type=_argtype(lambda v: parse_seconds(v, allow_zero=False)),
        help="Longest time one measurement (or A/B comparison) may sample; sampling "
        "stops earlier once the verdict is clear. Default: 10",
    )
    group.addoption(
        "--infer-accuracy-tolerance",
        metavar="SHARE",
        type=_argtype(parse_share),
        help="Allowed absolute accuracy drop, e.g. 0.01 or 1%% (one point). Default: 0.01",
    )
    group.addoption(
        "--infer-max-flip-rate",
        metavar="SHARE",
        type=_argtype(parse_share),
        help="Fail when more than this share of predictions changed, e.g. 0.05. Default: off",
    )
    group.addoption(
        "--infer-machine",
        metavar="NAME",
        help="Machine profile the latencies are stored under. Default: derived from CPU and cores",
    )
    group.addoption(
        "--infer-json", metavar="PATH", help="Write every measurement and verdict to this JSON file"
    )
    group.addoption(
        "--infer-markdown",
        metavar="PATH",
        help="Write a Markdown summary (verdict table, top regressions); also appended to "
        "$GITHUB_STEP_SUMMARY when that is set (ini: infer_markdown)",
    )
    group.addoption(
        "--infer-html",
        metavar="PATH",
        help="Write a self-contained HTML report with charts (needs matplotlib: extra [report]; "
        "ini: infer_html)",
    )
    group.addoption(
        "--infer-csv",
        metavar="PATH",
        help="Write one CSV row per gated figure (test, metric, baseline, current, change, "
        "verdict, percentiles, throughput; ini: infer_csv)",
    )
    group.addoption(
        "--infer-mode",
        type=_argtype(parse_mode),
        metavar="gate|report|off",
        help="gate: fail on regressions; report: compare and print only; off: call once, no timing",
    )
    group.addoption(
        "--infer-trace",
        action="store_true",
        default=None,
        help="After each measurement, profile a few calls of its ONNX Runtime session or torch "
        "model and list the top operators (marker: trace=True)",
    )
    group.addoption(
        "--infer-against",
        metavar="REV|PATH",
        help="Time every measurement in lock-step against this git revision (origin/main, "
        "HEAD~1, a sha) or checkout, in a companion process, and gate the ratio "
        "(ini: infer_against)",
    )
    group.addoption(
        "--infer-against-python",
        metavar="PATH",
        help="Interpreter of the --infer-against companion (default: this one), to A/B an "
        "environment (ini: infer_against_python)",
    )
    group.addoption(
        "--infer-only",
        action="store_true",
        help="Run only the tests that use infer_bench or accuracy_eval; skip the others "
        "(as pytest-benchmark's --benchmark-only)",
    )
    group.addoption(
        "--infer-skip",
        action="store_true",
        help="Skip the tests that use infer_bench or accuracy_eval (as --benchmark-skip)",
    )
    for key, help_text in (
        ("infer_baseline", "Baseline JSON to gate against"),
        ("infer_against", "Git revision or checkout to time every measurement against"),
        ("infer_against_python", "Interpreter of the --infer-against companion"),
        ("infer_strict", "Fail on NEW, INCONCLUSIVE and NO-BASELINE-FOR-MACHINE too (true/false)"),
        ("infer_latency_tolerance", "Allowed p50 slowdown (fraction); default 0.1"),
        ("infer_max_time", "Longest time one measurement may sample, in seconds; default 10"),
        ("infer_accuracy_tolerance", "Allowed absolute accuracy drop (share); default 0.01"),
        ("infer_max_flip_rate", "Largest share of changed predictions allowed; default off"),
        ("infer_machine", "Machine profile the latencies are stored under"),
        ("infer_json", "Write every measurement and verdict to this JSON file"),
        ("infer_markdown", "Write a Markdown summary to this file"),
        ("infer_html", "Write a self-contained HTML report to this file"),
        ("infer_csv", "Write one CSV row per gated figure to this file"),
        ("infer_mode", "gate, report or off; default gate"),
    ):
        parser.addini(key, help_text, type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "infergate(**settings): per-test gate settings, e.g. latency_tolerance=0.2, "
        "percentiles=('p50', 'p95'), warmup=10, warmup_s=0.5, min_samples=100, "
        "min_time_s=1.0, max_time_s=10, accuracy_tolerance=0.01, max_flip_rate=0.05, "
        "expect_providers=['CUDAExecutionProvider'], expect_quantized=True, "
        "expect_ops={'MatMulInteger': '>=1'}, trace=True",
    )
    from pytest_infergate.session import GateSession

    if config.getoption("infer_only", False) and config.getoption("infer_skip", False):
        raise pytest.UsageError(
            "infergate: --infer-only and --infer-skip exclude each other; give one of them"
        )
    try:
        ini_dir = config.inipath.parent if config.inipath else None
        gate_config = gate_config_from_options(config.getoption, config.getini, ini_dir)
        if gate_config.html_path is not None:
            _require_matplotlib()
        from pytest_infergate.against import hooks as against

        follower = against.follower_spec()
        if follower:
            gate_config = against.as_companion(gate_config)
        elif gate_config.against:
            against.refuse_unpairable(config, gate_config)
        session = GateSession.open(gate_config)
    except (BaselineError, ValueError) as exc:
        raise pytest.UsageError(f"infergate: {exc}") from None
    if follower:
        _serve_as_companion(config, session, follower)
    elif gate_config.against:
        leader = against.LeaderHooks(session, gate_config.against, gate_config.against_python)
        config.pluginmanager.register(leader, "infergate-against")
    missing = session.missing_baseline_problem()
    if missing and gate_config.strict and gate_config.mode is Mode.GATE:
        raise pytest.UsageError(f"infergate: {missing} (--infer-strict fails NEW entries)")
    config.stash[_SESSION_KEY] = session
    config.pluginmanager.register(_TestOutcomes(config.stash[_SESSION_KEY]), "infergate-outcomes")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_infergate.distributed import XdistHooks

        hooks = XdistHooks(config, config.stash[_SESSION_KEY])
        config.stash[_XDIST_KEY] = hooks
        config.pluginmanager.register(hooks, "infergate-xdist")


def _serve_as_companion(config: pytest.Config, session: GateSession, spec: str) -> None:
    """This process is another run's companion (:mod:`pytest_infergate.against`)."""
    from pytest_infergate.against.channel import ChannelError
    from pytest_infergate.against.hooks import FollowerHooks
    from pytest_infergate.against.link import Follower

    try:
        follower, order = Follower.connect(spec)
    except (OSError, ValueError, ChannelError) as exc:
        raise pytest.UsageError(f"infergate: companion cannot reach its leader: {exc}") from None
    session.follower = follower
    config.pluginmanager.register(FollowerHooks(follower, order), "infergate-companion")


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


#: The fixtures that make a test an infergate test, for --infer-only/--infer-skip.
GATE_FIXTURES = frozenset({"infer_bench", "accuracy_eval"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate each test's ``infergate`` markers once. A bad marker fails that test
    alone, at its setup: failing the session would stop every other test too, even
    when the marked one is deselected. ``--infer-only``/``--infer-skip`` skip (not
    deselect, as pytest-benchmark does) the tests that do not use / that use our fixtures."""
    only, skip = config.getoption("infer_only", False), config.getoption("infer_skip", False)
    if only or skip:
        for item in items:
            gated = not GATE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
            if only and not gated:
                item.add_marker(
                    pytest.mark.skip(reason="infergate: not a gate test (--infer-only)")
                )
            elif skip and gated:
                item.add_marker(pytest.mark.skip(reason="infergate: a gate test (--infer-skip)"))
    for item in items:
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
    from pytest_infergate.bench import InferBench
    from pytest_infergate.measure.progress import sampling_progress

    marker = request.node.stash.get(_MARKER_KEY, Settings())
    progress = sampling_progress(request.config)
    yield InferBench(get_session(request.config), request.node.nodeid, marker, progress)
    _record_properties(request)


def _record_properties(request: pytest.FixtureRequest) -> None:
    """Attach the test's measurements' key figures for ``--junitxml``."""
    from pytest_infergate.report.junit import junit_properties

    session = get_session(request.config)
    known = {name for name, _ in request.node.user_properties}
    for prop in junit_properties(session.measurements, request.node.nodeid):
        if prop[0] not in known:
            request.node.user_properties.append(prop)


@pytest.fixture
def accuracy_eval(request: pytest.FixtureRequest) -> Iterator[AccuracyEval]:
    """Evaluate a model on a data set slice against the baseline:
    ``accuracy_eval(model, data, metric="accuracy", limit=500)``."""
    from pytest_infergate.evaluation import AccuracyEval, terminal_progress

    marker = request.node.stash.get(_MARKER_KEY, Settings())
    yield AccuracyEval(
        get_session(request.config), request.node.nodeid, marker, terminal_progress(request.config)
    )
    _record_properties(request)


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
    from pytest_infergate.report.files import write_reports

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
    from pytest_infergate.report.terminal import (
        cpu_lines,
        format_notes,
        format_runtime_differences,
        format_table,
        format_traces,
        gpu_warnings,
        spinning_warnings,
        summary,
        ungated_line,
    )

    quiet = config.get_verbosity() < 0
    table = summary(gate.measurements, regressions_only=quiet)
    if table:
        terminalreporter.write_sep("=", f"infergate: machine {gate.profile}")
        header, *lines = format_table(table)
        terminalreporter.write_line(header, bold=True)
        for row, line in zip(table, lines, strict=True):
            terminalreporter.write_line(line, **_COLOURS.get(row.outcome.value, {}))
        for note in format_notes(table):
            terminalreporter.write_line(note, yellow=True)
    ungated = ungated_line(gate.measurements, gate.profile) if quiet else ""
    if ungated:
        terminalreporter.write_line(f"infergate: {ungated}", yellow=True)
    missing = gate.missing_baseline_problem()
    if missing:
        terminalreporter.write_line(f"infergate: {missing}", yellow=True)
    cpu_facts, cpu_warnings = cpu_lines(gate.measurements)
    for line in cpu_facts:
        terminalreporter.write_line(f"infergate: {line}")
    warnings = [*cpu_warnings, *gpu_warnings(gate.measurements)]
    warnings.extend(spinning_warnings(gate.measurements))
    for warning in warnings:
        terminalreporter.write_line(f"infergate: {warning}", yellow=True)
    differences = [] if quiet else format_runtime_differences(gate.measurements)
    if differences:
        terminalreporter.write_sep(
            "-", "infergate: operators that differ, A/B reference → candidate"
        )
        for line in differences:
            terminalreporter.write_line(line)
    traces = format_traces(gate.measurements)
    if traces:
        terminalreporter.write_sep("-", "infergate: where the time goes")
        for line in traces:
            terminalreporter.write_line(line)
    hooks: XdistHooks | None = config.stash.get(_XDIST_KEY, None)
    for crash in hooks.crashed if hooks is not None else ():
        terminalreporter.write_line(f"infergate: {crash}", yellow=True)
    if hooks is not None and hooks.workers > 1:
        terminalreporter.write_line(
            f"infergate: {hooks.workers} xdist workers timed one at a time, but the other "
            "workers' tests may still load the CPU; use -n0 for the steadiest figures",
            yellow=True,
        )
    report = config.stash.get(_FINISH_KEY, None)
    if report is not None:
        written = (("baseline", report.baseline_written), ("results", report.results_written))
        for what, path in written:
            if path is not None:
                terminalreporter.write_line(f"infergate: {what} written to {path}")
        if report.not_recorded:
            terminalreporter.write_line(
                f"infergate: not recorded, their tests did not pass: "
                f"{', '.join(report.not_recorded)}",
                yellow=True,
            )
        if report.skipped_reason:
            terminalreporter.write_line(f"infergate: {report.skipped_reason}", yellow=True)
        for failure in report.failures:
            terminalreporter.write_line(f"ERROR: infergate: {failure}", red=True)
    for collision in gate.collisions:
        terminalreporter.write_line(f"ERROR: infergate: {collision}", red=True)
    for line in config.stash.get(_REPORTS_KEY, []):
        terminalreporter.write_line(f"infergate: {line}")


_COLOURS: dict[str, dict[str, bool]] = {
    "NOT-APPLIED": {"red": True, "bold": True},
    "REGRESSED": {"red": True, "bold": True},
    "INCONCLUSIVE": {"yellow": True},
    "IMPROVED": {"cyan": True},
    "PASS": {"green": True},
}
