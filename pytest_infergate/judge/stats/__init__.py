"""Statistics behind the verdicts: quantiles and their confidence intervals.

Pure functions over sequences of numbers; nothing here knows about pytest.
This package imports numpy and scipy, so the plugin imports it only when a
measurement is summarised or compared.

The parts: :mod:`.quantiles` (one run), :mod:`.comparison` (two runs, or a run against its
history) and :mod:`.proportions` (the accuracy gate's tests).
"""

from __future__ import annotations

from pytest_infergate.judge.stats.comparison import (
    CONTINUE,
    IMPROVED,
    PASSED,
    REGRESSED,
    SEQUENTIAL_ALPHA,
    SEQUENTIAL_LOOKS,
    RatioEstimate,
    RatioLook,
    RatioRule,
    log_median_se,
    look_alpha,
    mann_whitney_slower_p,
    minimum_detectable_change,
    prediction_upper_log,
    quantile_ratio,
    ratio_look,
    ratio_of_medians,
    ratio_of_medians_arrays,
)
from pytest_infergate.judge.stats.proportions import (
    mcnemar_exact,
    mcnemar_midp,
    two_proportion_test,
    wilson_interval,
)
from pytest_infergate.judge.stats.quantiles import (
    QUANTILES,
    FloatArray,
    Interval,
    Summary,
    quantile,
    quantile_interval,
    sketch_ms,
    summarise_ns,
)
from pytest_infergate.judge.thresholds import MIN_SAMPLES_PER_ARM

__all__ = [
    "CONTINUE",
    "IMPROVED",
    "MIN_SAMPLES_PER_ARM",
    "PASSED",
    "QUANTILES",
    "REGRESSED",
    "SEQUENTIAL_ALPHA",
    "SEQUENTIAL_LOOKS",
    "FloatArray",
    "Interval",
    "RatioEstimate",
    "RatioLook",
    "RatioRule",
    "Summary",
    "log_median_se",
    "look_alpha",
    "mann_whitney_slower_p",
    "mcnemar_exact",
    "mcnemar_midp",
    "minimum_detectable_change",
    "prediction_upper_log",
    "quantile",
    "quantile_interval",
    "quantile_ratio",
    "ratio_look",
    "ratio_of_medians",
    "ratio_of_medians_arrays",
    "sketch_ms",
    "summarise_ns",
    "two_proportion_test",
    "wilson_interval",
]
