"""Machine-speed scaling of the stored gate: stored times at this run's pace, by the
yardstick timed between the samples (:mod:`pytest_infergate.measure.yardstick`;
docs/design.md, "Machine speed")."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_infergate.judge.thresholds import MIN_HISTORY, SPEED_DEADBAND, SPEED_NOISE_Z
from pytest_infergate.results import LatencyResult
from pytest_infergate.store.baseline import LatencyRecord


def at_this_speed(
    values: Sequence[float], record: LatencyRecord, result: LatencyResult
) -> tuple[tuple[float, ...], float | None]:
    """The stored runs' ``values`` at this run's machine speed, and the factor applied
    (this run's yardstick over the stored runs', geometric mean; ``None``: unscaled).

    Each stored run's value is multiplied by this run's yardstick time over that run's:
    a core running at x1.3 of its recorded pace makes every stored figure x1.3 before
    the rules compare, so the machine's pace is not read as the model's change while
    extra work in the model still is (docs/design.md, "Machine speed"). Only the newest
    runs that timed the yardstick are kept; a history that has fewer of them than the
    rule needs (files of older versions, a run without one) is judged unscaled, whole.
    """
    speeds, current = record.history_yardstick_ms, result.yardstick_ms
    if not speeds or not current or not values:
        return tuple(values), None
    kept = min(len(values), len(speeds))
    if kept < len(values) and kept < MIN_HISTORY:
        return tuple(values), None
    pairs = list(zip(values[-kept:], speeds[-kept:], strict=True))
    factor = math.exp(sum(math.log(current / s) for _, s in pairs) / kept)
    if not _beyond_noise(factor, result):
        return tuple(values), None
    return tuple(v * current / s for v, s in pairs), factor


def newest_speed(record: LatencyRecord, result: LatencyResult) -> float | None:
    """This run's yardstick over the newest stored run's (``None`` when either has none):
    the factor for a rule that compares against the newest run's figures."""
    speeds, current = record.history_yardstick_ms, result.yardstick_ms
    if not speeds or not current:
        return None
    factor = current / speeds[-1]
    return factor if _beyond_noise(factor, result) else None


def _beyond_noise(factor: float, result: LatencyResult) -> bool:
    """Whether the yardstick moved by more than its own noise: beyond
    :data:`SPEED_DEADBAND` and beyond :data:`SPEED_NOISE_Z` times the wander of this run's
    own blocks, in a run with enough blocks to show its wander at all."""
    noise = result.yardstick_noise
    if noise is None:
        return False
    band = max(math.log(SPEED_DEADBAND), SPEED_NOISE_Z * noise)
    return abs(math.log(factor)) > band


def speed_detail(speed: float | None) -> str:
    """What a check's detail says of the factor its stored values were scaled by."""
    if speed is None:
        return ""
    return f"stored at this run's machine speed (yardstick x{speed:.3g} of the stored runs')"
