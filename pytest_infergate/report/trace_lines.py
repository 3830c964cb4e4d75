"""The ``--infer-trace`` section: where a profiled call's time goes, by operator type
and by the slowest single operators."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_infergate.measure.trace import Trace
from pytest_infergate.results import LatencyResult, Measurement

#: Operator types listed by name in the trace section; the rest are summed in one line.
TRACE_TYPES_SHOWN = 8


def format_traces(measurements: Sequence[Measurement]) -> list[str]:
    """The detail section of ``--infer-trace``: per traced measurement, the time per call
    by operator type (adding up to the profiled call) and the slowest single operators."""
    lines: list[str] = []
    for m in measurements:
        t = m.trace
        if t is None:
            continue
        lines.append(f"{m.result.key}: {trace_heading(m, t)}")
        lines.extend(_type_lines(t))
        if all(op.node == op.op_type for op in t.ops):  # torch ops are their own types
            continue
        lines.append(f"  slowest operators ({t.covered_share:.0%} of the call):")
        width = max(len(_short(op.op_type)) for op in t.ops)
        for op in t.ops:
            per_call = op.total_ms / max(t.calls, 1)
            kind = _short(op.op_type).ljust(width)
            lines.append(f"    {kind}  {per_call:9.4g} ms  {op.share:6.1%}  {op.node}")
    return lines


def trace_heading(m: Measurement, t: Trace, sep: str = " ") -> str:
    """The runtime, the profiled time per call and, for a latency measurement, ``sep``
    and the p50 timed without the profiler (which slows every operator down)."""
    unprofiled = (
        f"{sep}(timed without the profiler: p50 {m.result.p50_ms:.4g} ms)"
        if isinstance(m.result, LatencyResult)
        else ""
    )
    return f"{t.runtime}, {t.call_ms:.4g} ms per profiled call over {t.calls} calls{unprofiled}"


#: Longest operator name shown; CUDA kernel names run past 100 characters.
OP_NAME_WIDTH = 40


def _short(name: str) -> str:
    return name if len(name) <= OP_NAME_WIDTH else name[: OP_NAME_WIDTH - 1] + "…"


def trace_breakdown(t: Trace, shown: int = TRACE_TYPES_SHOWN) -> list[tuple[str, float, float]]:
    """(label, ms per call, share of the call) for the ``shown`` slowest operator types,
    the rest summed in one entry, then the time outside operators: the entries add up to
    the profiled call. Empty for a trace without ``by_type`` (written before it existed)."""
    if not t.by_type:
        return []
    calls = max(t.calls, 1)
    named, rest = t.by_type[:shown], t.by_type[shown:]
    figures = [
        (f"{_short(op.op_type)} x{op.per_call}", op.total_ms / calls, op.share) for op in named
    ]
    if rest:
        figures.append(
            (
                f"{len(rest)} other types",
                sum(op.total_ms for op in rest) / calls,
                sum(op.share for op in rest),
            )
        )
    figures.append(("outside operators", t.call_ms * t.outside_share, t.outside_share))
    return figures


def _type_lines(t: Trace) -> list[str]:
    figures = trace_breakdown(t)
    if not figures:
        return []
    width = max(len(label) for label, _, _ in figures)
    lines = ["  by operator type (adds up to the call):"]
    lines.extend(
        f"    {label.ljust(width)}  {ms:9.4g} ms  {share:6.1%}" for label, ms, share in figures
    )
    return lines
