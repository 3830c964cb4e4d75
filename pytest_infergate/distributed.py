"""pytest-xdist support: workers measure and publish, the controller merges and writes.

Registered by the plugin only when pytest-xdist is installed (and not disabled with
``-p no:xdist``). Each worker serialises its timed sections with the other workers'
through a file lock, so two workers never time at once; the other workers' tests
(setup, accuracy evaluations) may still load the machine, which the summary says.
Each test's measurements travel with its teardown report (an attribute that
xdist's report serialisation carries as JSON text, see :mod:`.store.results_file`), so a worker
that crashes loses only the test it was running; the controller merges them as the
reports arrive and, alone, writes the baseline and the results file, once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_infergate.session import GateSession
from pytest_infergate.store.results_file import decode_measurements, encode_measurements

#: Report attribute holding a test's measurements (JSON text, see :mod:`.store.results_file`).
REPORT_ATTRIBUTE = "infergate_measurements"


def lock_path(testrunuid: str) -> Path:
    """The lock file the workers of one test run share (in the system's temp dir)."""
    return Path(tempfile.gettempdir()) / f"infergate-{testrunuid}.lock"


class XdistHooks:
    """The xdist hooks of one session, on the controller and on each worker."""

    def __init__(self, config: pytest.Config, gate: GateSession) -> None:
        self._config = config
        self._gate = gate
        self.workers = 0
        self.crashed: list[str] = []
        self._sent = 0
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        if workerinput is not None and int(workerinput.get("workercount", 1)) > 1:
            from filelock import FileLock

            gate.timing_lock = FileLock(str(lock_path(str(workerinput["testrunuid"]))))

    @staticmethod
    def is_worker(config: pytest.Config) -> bool:
        return hasattr(config, "workerinput")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """On a worker: attach the measurements taken since the last test to its
        teardown report (the test's fixtures have all finished by then)."""
        report = yield
        if call.when == "teardown" and self.is_worker(self._config):
            fresh = self._gate.measurements[self._sent :]
            self._sent = len(self._gate.measurements)
            if fresh:
                setattr(report, REPORT_ATTRIBUTE, encode_measurements(fresh))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """On the controller: merge the measurements a worker's report carries."""
        text = getattr(report, REPORT_ATTRIBUTE, None)
        if isinstance(text, str) and not self.is_worker(self._config):
            self._gate.merge(decode_measurements(text))

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """On the controller: count the workers that finished, and note one that crashed."""
        if error is None:
            self.workers += 1
        else:
            worker = getattr(node, "gateway", None)
            name = getattr(worker, "id", "a worker")
            self.crashed.append(
                f"xdist worker {name} went down ({str(error).strip().splitlines()[-1]}); the "
                "measurements of the test it was running were not recorded"
            )
