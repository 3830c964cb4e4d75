"""The gate's thresholds: each figure a rule uses, with the measurement behind it
(docs/design.md has the whole rationale), and the checks made against them."""

from __future__ import annotations

import math
from typing import Literal

#: Fewest samples per arm for any A/B decision; below this the normal approximation of
#: the U statistic and the order-statistic interval of the median are too coarse.
MIN_SAMPLES_PER_ARM = 10
#: Samples both runs need before a tail percentile is gated.
MIN_SAMPLES_FOR_TAIL = 300
CONFIDENCE = 0.99
#: Past runs on this machine needed before the prediction-interval rule replaces rule 1.
MIN_HISTORY = 3
#: Run-to-run drift rule 1 allows for, on top of the tolerance, while the history is too
#: short to measure it: the top of the 5-15% between processes (docs/design.md,
#: "Stored baseline").
UNMEASURED_DRIFT = 0.15
#: How long a history must span before its spread is trusted as the machine's drift.
HISTORY_SPAN_S = 3600
#: The largest minimum detectable regression worth stating as a number. An entry whose
#: history lets the gate catch only slowdowns beyond +100% (the call taking more than twice
#: as long) protects nothing an optimisation is measured for: int8, an ONNX export or a new
#: runtime move latency by 10-80%, and a regression that doubles a call shows in any
#: timing at all. Above it, a figure such as 24519% is the spread of a loaded machine's
#: few runs extrapolated, not a promise, so the summary says "cannot gate" and why.
MDR_BOUND = 1.0
#: Looks (samples taken) at which a stored-baseline measurement may stop early.
LATENCY_LOOKS = (50, 150, 300, 500, 1000)
#: How much wider the tolerance of a ratio is when it was stored on another machine.
CROSS_MACHINE_FACTOR = 2.0
#: Stored ratios (newest last) whose median a stored A/B check judges against.
RATIO_WINDOW = 3
#: The A/B effect margin as a share of the tolerance: a 10% gate needs > 5%
#: (docs/design.md, "The A/B rule").
EFFECT_FRACTION = 0.5
#: The false-alarm rate a whole session of stored latency checks may have; see
#: :func:`session_policy`.
SESSION_ALPHA = 0.02
#: The figure the CPU-cost check judges: the median CPU time per call.
CpuFigure = Literal["cpu_p50"]
CPU_FIGURE: CpuFigure = "cpu_p50"
#: Drift of the CPU cost the CPU-cost check allows beyond the tolerance while its history
#: cannot show it (fewer than 3 runs, or one sitting); see "CPU cost" below.
CPU_UNMEASURED_DRIFT = 0.06
#: A run is contended when its calls got less than this share of the CPU time per wall
#: second that the entry's quietest recorded run got: below it, waiting for a core alone
#: stretched the wall time by over 11%, past a 10% tolerance, so the wall time measures the
#: neighbours as much as the model. (A neighbour busy on the runner's cores left the calls
#: 0.46-0.57 in benchmarks/results/cpu_drift_h200_*.txt. The first switch, at 0.75, let
#: wall time decide runs that got 0.80 and 0.87 and read +32% and +28% for unchanged code:
#: 2 of the 4 false alarms under the neighbour in
#: benchmarks/results/gate_quality_contention_speed_h200.txt.)...
STARVED_SHARE = 0.90
#: ...and, where the OS says, its threads waited in the run queue for at least this share
#: of the timed window (a thread alone on its core waits well under 1% of the time; one
#: sharing its core with a busy loop, about half; a tenth is the stretch above).
WAITING_SHARE = 0.10
#: The stored gate scales stored times by the machine's speed only when the yardstick
#: moved by more than this factor: between back-to-back quiet processes on the 2-core
#: EPYC runner the yardstick of a short run read 84-98 us a call (one process x1.11 of
#: the one before, with the busy-wait model's time unchanged), so a smaller move is the
#: yardstick's own noise, not the core's pace (docs/design.md, "Machine speed").
SPEED_DEADBAND = 1.15
#: ...and by more than this many times the wander of the run's own yardstick blocks (sd of
#: their log paces), in a run of at least ``measure.yardstick.MIN_BLOCKS`` blocks: on another
#: day the same runner's blocks wandered 95-125 us within one process and ten fresh 2 s
#: processes read 96-113 us (x1.175, sd of log 0.061), so a fixed band of x1.15 scaled
#: unchanged runs by noise; three such deviations is x1.2 there, while the H200 host's
#: phases (x1.4-x1.9, each steady for tens of seconds) stay well outside it.
SPEED_NOISE_Z = 3.0


def cannot_gate(mdr: float | None, tolerance: float) -> bool:
    """Whether a check's minimum detectable regression is beyond :data:`MDR_BOUND` because
    of the history's spread (not because the tolerance itself is that wide: a chosen
    300% tolerance on a shared runner is a decision, not a failure to measure)."""
    return mdr is not None and mdr > MDR_BOUND and mdr > tolerance + UNMEASURED_DRIFT


def check_ratio_limits(baseline: float, tolerance: float, prefix: str = "") -> None:
    """Refuse a gated ratio's baseline that is not a finite number > 0, or a tolerance that
    is not a finite number >= 0 (``prefix`` names the gate in the message)."""
    if not (math.isfinite(baseline) and baseline > 0):
        raise ValueError(f"{prefix}baseline ratio must be a finite number > 0, got {baseline!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"{prefix}tolerance must be a finite number >= 0, got {tolerance!r}")
