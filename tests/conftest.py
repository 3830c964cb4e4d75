from __future__ import annotations

import textwrap

import pytest

# numpy and scipy cannot be imported twice in one process, and pytester's in-process
# runs drop the modules they imported: load them once, here, for every run.
import pytest_infergate.stats  # noqa: F401

#: A test module whose model call busy-waits 1 ms times $INFERGATE_TEST_SLOWDOWN:
#: a controlled slowdown that does not depend on how fast this machine is.
SLOWABLE_MODULE = textwrap.dedent(
    """
    import os
    import time

    def model(x):
        factor = float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1"))
        end = time.perf_counter() + 0.001 * factor
        while time.perf_counter() < end:
            pass
        return x * 2

    def test_model_latency(infer_bench):
        assert infer_bench(model, 21) == 42
    """
)

#: Keep each measurement short: the gate's decisions here rest on a 2x change.
FAST_INI = """
[pytest]
infer_max_time = 0.3
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with the slowable model test and short measurements."""
    pytester.makeini(FAST_INI)
    pytester.makepyfile(test_model=SLOWABLE_MODULE)
    return pytester


@pytest.fixture
def slowdown(monkeypatch: pytest.MonkeyPatch):
    """Set the model's slowdown factor for in-process pytester runs."""

    def set_factor(factor: float) -> None:
        monkeypatch.setenv("INFERGATE_TEST_SLOWDOWN", str(factor))

    return set_factor
