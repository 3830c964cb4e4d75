"""Why GPU timing needs ``sync``: infergate's loop with and without it, against CUDA events.

CUDA kernels run asynchronously: a host clock read right after ``model(x)`` only
measures the launch. This script times one torch model on the GPU three ways
in one process, and samples NVML telemetry during the synchronised run:

1. infergate's loop without ``sync`` (what a naive timer reports),
2. infergate's loop with ``sync=torch.cuda.synchronize`` (what ``infer_bench`` does),
3. CUDA events around each call (the device's own clock: the reference).

    python benchmarks/gpu_sync.py          # needs torch with CUDA; nvidia-ml-py for telemetry

Without a CUDA device it says so and exits 0.
"""

from __future__ import annotations

import contextlib
import statistics
import sys

from pytest_infergate.measure.telemetry import GpuSampler, gpu_facts, open_nvml
from pytest_infergate.measure.timing import SamplingPlan, TimingSetup, run

SHORT = SamplingPlan(warmup_calls=5, warmup_s=0, min_samples=30, min_time_s=0, max_time_s=5)
LONG = SamplingPlan(warmup_calls=10, warmup_s=0.5, min_samples=300, min_time_s=2, max_time_s=10)


def main() -> int:
    try:
        import torch
    except ModuleNotFoundError:
        print("gpu_sync: torch is not installed; nothing to measure")
        return 0
    if not torch.cuda.is_available():
        print("gpu_sync: no CUDA device; nothing to measure")
        return 0

    torch.manual_seed(0)
    width, batch, depth = 8192, 256, 4
    layers = [torch.nn.Linear(width, width) for _ in range(depth)]
    model = torch.nn.Sequential(*layers).cuda().eval()
    x = torch.randn(batch, width, device="cuda")

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    def p50_ms(samples_ns: tuple[int, ...]) -> float:
        return statistics.median(samples_ns) / 1e6

    rows: list[tuple[str, float, int]] = []
    for label, plan in (("no sync, 30 samples", SHORT), ("no sync, >= 2 s", LONG)):
        torch.cuda.synchronize()
        timing = run(call, setup=TimingSetup(plan=plan))
        torch.cuda.synchronize()
        rows.append((f"infergate loop, {label}", p50_ms(timing.samples_ns), len(timing.samples_ns)))

    nvml = open_nvml()
    sampler = GpuSampler(nvml, torch.cuda.current_device()) if nvml else None
    with sampler or contextlib.nullcontext():
        synced = run(call, setup=TimingSetup(plan=LONG, sync=torch.cuda.synchronize))
    label = "infergate loop, sync=torch.cuda.synchronize"
    rows.append((label, p50_ms(synced.samples_ns), len(synced.samples_ns)))

    events_ms = []
    for _ in range(300):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        events_ms.append(start.elapsed_time(end))
    reference = statistics.median(events_ms)
    rows.append(("CUDA events (reference)", reference, len(events_ms)))

    print(
        f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"model: {depth} x Linear({width}, {width}), batch {batch}, fp32"
    )
    print(f"{'method':<48} {'p50 ms':>9} {'vs events':>10} {'samples':>8}")
    for label, value, n in rows:
        print(f"{label:<48} {value:>9.3f} {value / reference - 1:>+10.1%} {n:>8}")
    synced_error = rows[2][1] / reference - 1
    print(
        f"\nsynchronised p50 is within 5% of CUDA events: {abs(synced_error) <= 0.05} "
        f"({synced_error:+.1%})"
    )
    print(f"unsynchronised p50 (30 samples) is {reference / rows[0][1]:.1f}x too small")

    if sampler is None:
        print("\ntelemetry: nvidia-ml-py is not installed or NVML is unavailable")
        return 0
    telemetry = sampler.telemetry
    facts = {f.index: f for f in gpu_facts(nvml)}[telemetry.index]
    print(
        f"\nGPU {facts.index}: {facts.name}, {facts.memory_gib} GiB, driver {facts.driver}, "
        f"CUDA {facts.cuda_driver}, compute capability {facts.compute_capability}"
    )
    print(f"telemetry over the synchronised run: {len(telemetry.samples)} readings")
    for field, unit in (
        ("utilization_pct", "%"),
        ("memory_used_mib", "MiB"),
        ("power_w", "W"),
        ("sm_clock_mhz", "MHz"),
        ("temperature_c", "C"),
    ):
        low, mean, high = telemetry.stats(field)
        print(f"  {field:<16} min {low:>9.1f}  mean {mean:>9.1f}  max {high:>9.1f} {unit}")
    print(
        f"  slowdowns: {', '.join(telemetry.slowdowns) or 'none'}; "
        f"other processes on the GPU: {telemetry.other_processes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
