"""pytest-infergate: fail CI when a model gets slower or less accurate, not when the machine
was noisy.

The public API is re-exported here; everything else is private to the package. pytest
imports this package in every run of our users, so the records load on first use of a
name (PEP 562), not with the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_infergate.results import (
        AccuracyResult,
        ComparisonResult,
        LatencyResult,
        Measurement,
        StopReason,
    )
    from pytest_infergate.verdicts import AccuracyCheck, Check, Outcome, Verdict

#: Each public name and the module that defines it.
_HOME = {
    "AccuracyResult": "results",
    "ComparisonResult": "results",
    "LatencyResult": "results",
    "Measurement": "results",
    "StopReason": "results",
    "AccuracyCheck": "verdicts",
    "Check": "verdicts",
    "Outcome": "verdicts",
    "Verdict": "verdicts",
}

__all__ = [
    "AccuracyCheck",
    "AccuracyResult",
    "Check",
    "ComparisonResult",
    "LatencyResult",
    "Measurement",
    "Outcome",
    "StopReason",
    "Verdict",
    "__version__",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'pytest_infergate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pytest_infergate.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
