"""Where the time goes: the top operators of a few profiled calls.

For onnxruntime, profiling can only be switched on when a session is built, so
a profiled twin of the measured session is built from the same file, options
and providers, and swapped in for a few calls (then swapped back, also on
error). For torch, ``torch.profiler`` wraps a few calls. Tracing runs after the
timed loop, never inside it: profilers slow every operator down.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OpTime:
    """Time spent in one operator (a graph node for ORT, an aten op for torch)."""

    op_type: str
    node: str
    total_ms: float
    calls: int
    share: float


@dataclass(frozen=True)
class OpTypeTime:
    """Time spent in every operator of one type, over all profiled calls; ``per_call``
    counts the operators of that type one call runs (graph nodes, aten calls)."""

    op_type: str
    per_call: int
    total_ms: float
    share: float


@dataclass(frozen=True)
class Trace:
    """Profile of ``calls`` calls: mean time per call and the operators that took it.

    ``ops`` are the slowest single operators (graph nodes); ``by_type`` covers every
    operator, summed per type, so that ``by_type`` plus :attr:`outside_share` (the
    executor, input and output copies, the profiler itself) add up to the call.
    """

    runtime: str
    calls: int
    call_ms: float
    ops: tuple[OpTime, ...]
    by_type: tuple[OpTypeTime, ...] = ()

    @property
    def covered_share(self) -> float:
        """How much of the call time the listed operators explain."""
        return sum(op.share for op in self.ops)

    @property
    def outside_share(self) -> float:
        """The share of the call spent outside every operator (never below zero)."""
        return max(0.0, 1.0 - sum(t.share for t in self.by_type))


def _inference_session(owner: object) -> Any:
    """The ``InferenceSession`` behind ``owner``: itself, an optimum ``ORTModel``'s
    ``session``, or that of a transformers pipeline's ``model``."""
    for candidate in (owner, getattr(owner, "model", None)):
        if hasattr(candidate, "get_providers") and hasattr(candidate, "_sess"):
            return candidate
        session = getattr(candidate, "session", None)
        if session is not None and hasattr(session, "_sess"):
            return session
    raise ValueError(
        f"cannot trace {type(owner).__name__}: expected an onnxruntime InferenceSession, "
        "an optimum ORTModel or a pipeline over one"
    )


def trace_onnxruntime(
    call: Callable[[], object], owner: object, *, calls: int = 10, top: int = 10
) -> Trace:
    """Profile ``calls`` calls of ``call``, which runs the session held by ``owner``.

    The first profiled call is dropped (it allocates the memory arena).
    """
    import onnxruntime as ort

    session = _inference_session(owner)
    options = session.get_session_options()
    with tempfile.TemporaryDirectory(prefix="infergate-trace-") as directory:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(directory) / "ort")
        twin = ort.InferenceSession(session._model_path, options, providers=session.get_providers())
        original = session._sess
        session._sess = twin._sess
        try:
            for _ in range(calls + 1):
                call()
        finally:
            session._sess = original
        events = json.loads(Path(twin.end_profiling()).read_text())
    return _summarise_ort(events, calls, top)


def _summarise_ort(events: list[dict[str, Any]], calls: int, top: int) -> Trace:
    runs = [e for e in events if e.get("name") == "model_run"]
    if len(runs) < 2:
        raise ValueError("the profiled calls did not run the session; is owner the right model?")
    first_end = runs[0]["ts"] + runs[0]["dur"]
    kept_runs = [r for r in runs if r["ts"] > first_end]
    run_us = sum(r["dur"] for r in kept_runs)
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for event in events:
        name = event.get("name", "")
        # Fence events time the waits around a node, not its kernel.
        if event.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        if event["ts"] <= first_end:
            continue
        key = (event["args"].get("op_name", "?"), name.removesuffix("_kernel_time"))
        totals[key][0] += event["dur"]
        totals[key][1] += 1
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:top]
    per_type: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for (op, _node), (total, _n) in totals.items():
        per_type[op][0] += 1
        per_type[op][1] += total
    return Trace(
        runtime="onnxruntime",
        calls=len(kept_runs),
        call_ms=run_us / len(kept_runs) / 1e3,
        ops=tuple(
            OpTime(op, node, total / 1e3, int(n) // len(kept_runs), total / run_us)
            for (op, node), (total, n) in ranked
        ),
        by_type=_ranked_types(
            {op: (int(nodes), total / 1e3) for op, (nodes, total) in per_type.items()},
            run_us / 1e3,
        ),
    )


def _ranked_types(totals: dict[str, tuple[int, float]], wall_ms: float) -> tuple[OpTypeTime, ...]:
    """Operator types, slowest first, with their share of ``wall_ms`` (all profiled calls);
    ``totals`` maps a type to (operators per call, total ms)."""
    ranked = sorted(totals.items(), key=lambda item: -item[1][1])
    return tuple(
        OpTypeTime(op, per_call, total_ms, total_ms / wall_ms)
        for op, (per_call, total_ms) in ranked
    )


def trace_torch(call: Callable[[], object], *, calls: int = 10, top: int = 10) -> Trace:
    """Profile ``calls`` calls with ``torch.profiler``.

    On the CPU, aten ops are ranked by self CPU time. When the calls launch CUDA
    kernels, the kernels are ranked by GPU time instead: the CPU side of a GPU model
    is mostly launching and waiting (``cudaDeviceSynchronize``), which says nothing
    about where the GPU's time goes; "outside operators" is then the GPU's idle time.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    call()
    with profile(activities=activities) as profiler:
        start = time.perf_counter()
        for _ in range(calls):
            call()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        wall_us = (time.perf_counter() - start) * 1e6
    averages = list(profiler.key_averages())
    kernels = [(a, _device_us(a)) for a in averages if _is_kernel(a)]
    if kernels:
        runtime, timed = "torch, CUDA kernels (GPU time)", kernels
    else:
        runtime, timed = "torch", [(a, float(a.self_cpu_time_total)) for a in averages]
    timed.sort(key=lambda pair: -pair[1])

    def per_call(count: int) -> int:
        return max(1, round(count / calls)) if count else 0

    return Trace(
        runtime=runtime,
        calls=calls,
        call_ms=wall_us / calls / 1e3,
        ops=tuple(
            OpTime(a.key, a.key, us / 1e3, per_call(a.count), us / wall_us) for a, us in timed[:top]
        ),
        by_type=_ranked_types(
            {a.key: (per_call(a.count), us / 1e3) for a, us in timed}, wall_us / 1e3
        ),
    )


def _device_us(event: Any) -> float:
    """Self GPU time of a profiler average (``self_cuda_time_total`` before torch 2.4)."""
    value: Any = getattr(event, "self_device_time_total", None)
    if value is None:
        value = getattr(event, "self_cuda_time_total", 0.0)
    return float(value)


def _is_kernel(event: Any) -> bool:
    """A CUDA kernel (or memcpy/memset) event: device-side, with GPU time of its own."""
    return str(getattr(event, "device_type", "")).endswith("CUDA") and _device_us(event) > 0
