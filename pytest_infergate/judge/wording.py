"""How verdicts word figures: percentages, points, confidence levels."""

from __future__ import annotations


def _value(value: float) -> str:
    """A metric value: a percentage when it is a share (0..1), else as is."""
    return f"{value:.2%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"


def _points(change: float, *, sign: bool = True) -> str:
    """An absolute change of a 0..1 metric in percentage points."""
    return f"{change * 100:{'+' if sign else ''}.2f} pts"


def _level(confidence: float) -> str:
    """A confidence level: 99%, 99.9%, 99.95%."""
    return f"{confidence * 100:.4g}%"


def percent(fraction: float) -> str:
    """A fraction as a percentage with two significant digits below 100%: 0.0021 -> 0.21%."""
    if abs(fraction) >= 1 or fraction == 0:
        return f"{fraction:.0%}"
    return f"{100 * fraction:.2g}%"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
