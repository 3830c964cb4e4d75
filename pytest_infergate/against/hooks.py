"""The pytest hooks of both sides: the leader starts and ends its companion, the
companion keeps the leader's tests in the leader's order and reports each test's end."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_infergate.against.channel import ChannelError
from pytest_infergate.against.link import Companion, Follower
from pytest_infergate.against.revision import (
    Revision,
    RevisionError,
    check_out,
    remove,
    repository_top,
)
from pytest_infergate.options import COMPANION_ENV

if TYPE_CHECKING:
    from pytest_infergate.config import GateConfig
    from pytest_infergate.session import GateSession


def follower_spec() -> str:
    """The channel this process serves as a companion, or ``""``."""
    return os.environ.get(COMPANION_ENV, "")


def as_companion(config: GateConfig) -> GateConfig:
    """A companion judges, records and writes nothing: the leader does."""
    return dataclasses.replace(
        config,
        baseline_path=None,
        update=False,
        strict=False,
        json_path=None,
        markdown_path=None,
        html_path=None,
        csv_path=None,
        against=None,
    )


def refuse_unpairable(config: pytest.Config, gate: GateConfig) -> None:
    """Usage errors for what cannot run against a revision."""
    workers = getattr(config.option, "numprocesses", None)
    if workers not in (None, 0, "0") or getattr(config.option, "dist", "no") != "no":
        raise pytest.UsageError(
            "infergate: --infer-against times one measurement of each revision at a time; "
            "it cannot run under pytest-xdist: drop -n/--dist (or use -n0)"
        )
    if gate.update:
        raise pytest.UsageError(
            "infergate: --infer-against and --infer-update-baseline do not mix: a baseline "
            "records this revision alone; run them separately"
        )


class FollowerHooks:
    """In the companion: the leader's tests only, in its order; a message per test end."""

    def __init__(self, follower: Follower, order: list[str]) -> None:
        self._follower = follower
        self._order = {nodeid: i for i, nodeid in enumerate(order)}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        kept = [item for item in items if item.nodeid in self._order]
        dropped = [item for item in items if item.nodeid not in self._order]
        kept.sort(key=lambda item: self._order[item.nodeid])
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        try:
            self._follower.test_end(nodeid)
        except ChannelError:
            pytest.exit("infergate companion: the leader went away", returncode=3)

    def pytest_sessionfinish(self) -> None:
        with contextlib.suppress(ChannelError):
            self._follower.done()


class LeaderHooks:
    """In the leader: check the revision out when collection is done, start the
    companion on the selected tests, and remove both when the run ends (also when it is
    interrupted: ``pytest_unconfigure`` runs on Ctrl-C and on a failed session)."""

    def __init__(self, gate: GateSession, spec: str, python: str | None) -> None:
        self._gate = gate
        self._spec = spec
        self._python = python or sys.executable
        self._revision: Revision | None = None
        self._start = Path.cwd()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        nodeids = [item.nodeid for item in session.items]
        if not nodeids:
            return
        rootdir = Path(session.config.rootpath)
        try:
            # The spec as asked ("baseline"), the commit it resolved to in the sha.
            revision = check_out(self._resolved_spec(), rootdir)
            self._revision = dataclasses.replace(revision, spec=self._spec)
            self._gate.companion = Companion.start(
                self._revision,
                self._python,
                _counterpart(rootdir, self._revision),
                nodeids,
                _forwarded_args(session.config),
            )
        except (RevisionError, OSError) as exc:
            self._gate.against_problem = f"--infer-against={self._spec}: {exc}"

    def _resolved_spec(self) -> str:
        """The revision asked for; ``baseline``: the one the baseline was recorded at."""
        if self._spec != "baseline":
            return self._spec
        recorded = self._gate.baseline.revision
        if recorded is None:
            raise RevisionError(
                "the baseline records no revision; re-record it with --infer-update-baseline "
                "in a git checkout, or name the revision"
            )
        if recorded.dirty:
            self._gate.against_note = (
                f"the baseline was recorded at {recorded.sha[:7]} with uncommitted changes, "
                "which that commit does not have"
            )
        return recorded.sha

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        companion = self._gate.companion
        if companion is not None:
            companion.finish()
            if companion.broken and not self._gate.against_problem:
                self._gate.against_problem = f"--infer-against={self._spec}: {companion.broken}"
        self._cleanup()
        strict = self._gate.config.strict and self._gate.against_problem
        if strict and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        problem, companion = self._gate.against_problem, self._gate.companion
        if problem:
            fallback = (
                "--infer-strict fails the run"
                if self._gate.config.strict
                else "its measurements were judged by the stored gate instead"
            )
            terminalreporter.write_line(f"infergate: {problem}; {fallback}", yellow=True)
        if self._gate.against_note:
            terminalreporter.write_line(f"infergate: {self._gate.against_note}", yellow=True)
        if companion is None or self._revision is None:
            return
        measured = [m for m in self._gate.measurements if m.verdict.kind != "accuracy"]
        evaluated = len(self._gate.measurements) - len(measured)
        accuracy = (
            f"; {len(companion.paired_accuracy)} of {evaluated} accuracy evaluations judged "
            "against its predictions"
            if evaluated
            else ""
        )
        started = f"{companion.start_s:.1f} s to start and " if companion.start_s else ""
        terminalreporter.write_line(
            f"infergate: against {self._revision.label} ({self._spec}): "
            f"{len(companion.paired)} of {len(measured)} latency measurements timed in "
            f"lock-step{accuracy}; waiting for the companion took {started}"
            f"{companion.waited_s:.1f} s in all"
        )

    def pytest_unconfigure(self) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        companion = self._gate.companion
        if companion is not None:
            companion.close()
        if self._revision is not None:
            remove(self._revision, self._start)


def _counterpart(rootdir: Path, revision: Revision) -> Path:
    """``rootdir``'s place in the other checkout (its top when there is none)."""
    try:
        where = revision.root / rootdir.resolve().relative_to(repository_top(rootdir).resolve())
    except (RevisionError, ValueError):
        return revision.root
    return where if where.is_dir() else revision.root


def _forwarded_args(config: pytest.Config) -> list[str]:
    """Options the companion's tests should run with: ``-p no:randomly`` keeps its
    order the leader's (the companion sorts, but a plugin reordering after it would
    not)."""
    args = ["-p", "no:randomly"] if config.pluginmanager.hasplugin("randomly") else []
    return args
