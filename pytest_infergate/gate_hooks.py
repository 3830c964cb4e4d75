"""The pytest hooks of an open gate: registered by :mod:`pytest_infergate.plugin` the first
time a run needs the gate, so a run that measures nothing never imports this module or
what it imports (docs/design.md, "Import cost")."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from importlib.util import find_spec
from typing import Any

import pytest

from pytest_infergate.against import hooks as against
from pytest_infergate.against.channel import ChannelError
from pytest_infergate.against.link import Follower
from pytest_infergate.bench import InferBench
from pytest_infergate.config import GateConfig, Mode, Settings, gate_config_from_options
from pytest_infergate.distributed import XdistHooks
from pytest_infergate.evaluation import AccuracyEval, terminal_progress
from pytest_infergate.measure.progress import sampling_progress
from pytest_infergate.report.junit import junit_properties
from pytest_infergate.report.session_summary import write_summary
from pytest_infergate.session import FinishReport, GateSession
from pytest_infergate.store.baseline import BaselineError

_MARKER_KEY = pytest.StashKey[Settings]()
_MARKER_ERROR_KEY = pytest.StashKey[str]()


class GateHooks:
    """The run's :class:`GateSession` and the hooks that feed it and report it."""

    def __init__(self, gate: GateSession) -> None:
        self.gate = gate
        self.xdist: XdistHooks | None = None
        self.finish: FinishReport | None = None
        self.reports: list[str] = []

    @classmethod
    def open(cls, config: pytest.Config) -> GateHooks:
        """Open the session and register its hooks (and the companion's, xdist's and
        ``--infer-against``'s); a bad option or baseline is a usage error."""
        follower = against.follower_spec()
        gate = _open_session(config, follower)
        missing = gate.missing_baseline_problem()
        if missing and gate.config.strict and gate.config.mode is Mode.GATE:
            raise pytest.UsageError(f"infergate: {missing} (--infer-strict fails NEW entries)")
        hooks = cls(gate)
        manager = config.pluginmanager
        if follower:
            _serve_as_companion(config, gate, follower)
        elif gate.config.against:
            leader = against.LeaderHooks(gate, gate.config.against, gate.config.against_python)
            manager.register(leader, "infergate-against")
        if manager.hasplugin("xdist"):
            hooks.xdist = XdistHooks(config, gate)
            manager.register(hooks.xdist, "infergate-xdist")
        manager.register(hooks, "infergate-gate")
        return hooks

    def read_markers(self, items: Sequence[pytest.Item]) -> None:
        """Validate each test's ``infergate`` markers once. A bad marker fails that test
        alone, at its setup: failing the session would stop every other test too, even
        when the marked one is deselected."""
        for item in items:
            _read_marker(item)

    def infer_bench(self, request: pytest.FixtureRequest) -> Iterator[InferBench]:
        marker = request.node.stash.get(_MARKER_KEY, Settings())
        progress = sampling_progress(request.config)
        yield InferBench(self.gate, request.node.nodeid, marker, progress)
        self._record_properties(request)

    def accuracy_eval(self, request: pytest.FixtureRequest) -> Iterator[AccuracyEval]:
        marker = request.node.stash.get(_MARKER_KEY, Settings())
        progress = terminal_progress(request.config)
        yield AccuracyEval(self.gate, request.node.nodeid, marker, progress)
        self._record_properties(request)

    def _record_properties(self, request: pytest.FixtureRequest) -> None:
        """Attach the test's measurements' key figures for ``--junitxml``."""
        known = {name for name, _ in request.node.user_properties}
        for prop in junit_properties(self.gate.measurements, request.node.nodeid):
            if prop[0] not in known:
                request.node.user_properties.append(prop)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Fail a test with a bad ``infergate`` marker before its fixtures are built."""
        problem = item.stash.get(_MARKER_ERROR_KEY, "")
        if problem:
            pytest.fail(problem, pytrace=False)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Count the stored checks the selected tests will make: they share the session's
        false-alarm rate."""
        self.gate.plan_checks([item.nodeid for item in session.items])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note the tests whose measurements a baseline update must not record."""
        why = _unrecordable(report)
        if why:
            self.gate.exclude(report.nodeid, why)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(session.config, "workerinput"):
            return  # an xdist worker publishes its measurements; the controller writes
        report = self.gate.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
        self.finish = report
        if report.interrupted:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        elif report.failures:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        elif self.gate.collisions and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._write_reports(session)

    def _write_reports(self, session: pytest.Session) -> None:
        """The Markdown and HTML reports asked for (not in off mode); a report that cannot
        be written makes the run a usage error, as the results file does."""
        config = self.gate.config
        markdown, html, csv = config.markdown_path, config.html_path, config.csv_path
        if config.mode is Mode.OFF:
            return
        step_summary = bool(os.environ.get("GITHUB_STEP_SUMMARY")) and bool(self.gate.measurements)
        if not (markdown or html or csv or step_summary):
            return
        from pytest_infergate.report.files import write_reports  # HTML and Markdown renderers

        try:
            written = write_reports(
                self.gate.results(),
                markdown=markdown,
                html=html,
                csv=csv,
                environ=os.environ,
                baseline=self.gate.baseline,
            )
        except OSError as exc:
            self.reports = [f"writing the reports failed: {exc}"]
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        self.reports = [f"report written to {path}" for path in written]

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.gate.config.mode is Mode.OFF or not self.gate.measurements:
            return
        write_summary(
            terminalreporter,
            self.gate,
            quiet=config.get_verbosity() < 0,
            xdist=self.xdist,
            finish=self.finish,
            reports=self.reports,
        )


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


def _unrecordable(report: pytest.TestReport) -> str:
    """Why ``report`` makes its test's measurements unfit for the baseline ("" if not)."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else f"failed in {report.when}"
    if report.skipped:
        return "skipped"
    return ""
