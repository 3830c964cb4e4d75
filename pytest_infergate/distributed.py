"""pytest-xdist support: workers measure and publish, the controller merges and writes.

Registered by the plugin only when pytest-xdist is installed (and not disabled with
``-p no:xdist``). Each worker serialises its timed sections with the other workers'
through a file lock, so two workers never time at once; the other workers' tests
(setup, accuracy evaluations) may still load the machine, which the summary says.
At the end a worker puts its measurements into xdist's ``workeroutput``; the
controller decodes them in ``pytest_testnodedown`` and, alone, writes the baseline
and the results file, once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from pytest_infergate.session import GateSession

#: ``workeroutput`` key of a worker's measurements (JSON text, see :mod:`.wire`).
OUTPUT_KEY = "infergate_measurements"


def lock_path(testrunuid: str) -> Path:
    """The lock file the workers of one test run share (in the system's temp dir)."""
    return Path(tempfile.gettempdir()) / f"infergate-{testrunuid}.lock"


class XdistHooks:
    """The xdist hooks of one session, on the controller and on each worker."""

    def __init__(self, config: pytest.Config, gate: GateSession) -> None:
        self._config = config
        self._gate = gate
        self.workers = 0
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        if workerinput is not None and int(workerinput.get("workercount", 1)) > 1:
            from filelock import FileLock

            gate.timing_lock = FileLock(str(lock_path(str(workerinput["testrunuid"]))))

    @staticmethod
    def is_worker(config: pytest.Config) -> bool:
        return hasattr(config, "workerinput")

    def pytest_sessionfinish(self) -> None:
        """On a worker: publish the measurements (xdist sends them after this hook)."""
        if self.is_worker(self._config):
            from pytest_infergate.wire import encode_measurements

            output: dict[str, Any] = self._config.workeroutput  # type: ignore[attr-defined]
            output[OUTPUT_KEY] = encode_measurements(self._gate.measurements)

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """On the controller: merge a finished worker's measurements."""
        text = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
        if text is None:
            return
        from pytest_infergate.wire import decode_measurements

        self.workers += 1
        self._gate.merge(decode_measurements(text))
