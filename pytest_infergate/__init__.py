"""pytest-infergate: fail CI when a model gets slower or less accurate, not when the machine
was noisy.

The public API is re-exported here; everything else is private to the package.
Importing this package is cheap: no numpy, scipy or ML library is loaded.
"""

from __future__ import annotations

from pytest_infergate.results import (
    AccuracyResult,
    ComparisonResult,
    LatencyResult,
    Measurement,
    StopReason,
)
from pytest_infergate.verdicts import AccuracyCheck, Check, Outcome, Verdict

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
