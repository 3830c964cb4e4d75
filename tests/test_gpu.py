"""GPU timing, facts and telemetry: CPU-only paths here, CUDA paths skip without a GPU."""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
import threading
import types

import pytest

from pytest_infergate.measure.environment import Fingerprint, collect_fingerprint
from pytest_infergate.measure.telemetry import (
    SERIES_LIMIT,
    GpuFacts,
    GpuSample,
    GpuSampler,
    GpuTelemetry,
)
from pytest_infergate.measure.timing import (
    SamplingPlan,
    TimingSetup,
    resolve_sync,
    resolve_timer,
    run,
)
from pytest_infergate.report.terminal import gpu_warnings
from pytest_infergate.results import LatencyResult, Measurement
from pytest_infergate.store.baseline import Reader, decode_fingerprint, encode_fingerprint
from pytest_infergate.store.results_file import decode_measurements, encode_gpu, encode_measurements
from pytest_infergate.verdicts import Outcome, Verdict

H100 = GpuFacts(0, "NVIDIA H100 80GB HBM3", 79.6, "580.159.04", "13.0", "9.0")


def _cuda_available() -> bool:
    try:
        import torch
    except ModuleNotFoundError:
        return False
    return bool(torch.cuda.is_available())


def _fingerprint(gpus: tuple[GpuFacts, ...] = ()) -> Fingerprint:
    return Fingerprint(
        "Intel(R) Xeon(R) Platinum 8480+", 2, 8.0, "Linux", "x86_64", "3.11", gpus=gpus
    )


def test_profile_id_gets_a_gpu_slug_only_with_a_gpu() -> None:
    assert _fingerprint().profile_id() == "intel-xeon-platinum-8480-2c"
    assert _fingerprint((H100,)).profile_id() == "intel-xeon-platinum-8480-2c-nvidia-h100-80gb-hbm3"
    two = (H100, GpuFacts(1, H100.name, 79.6, "580.159.04", "13.0", "9.0"))
    assert _fingerprint(two).profile_id().endswith("-2c-2x-nvidia-h100-80gb-hbm3")


def test_fingerprint_codec_keeps_gpus_and_reads_files_without_them() -> None:
    reader = Reader("baseline.json")
    with_gpu = _fingerprint((H100,))
    assert decode_fingerprint(reader, encode_fingerprint(with_gpu), "machines['x']") == with_gpu
    plain = encode_fingerprint(_fingerprint())
    assert "gpus" not in plain
    assert decode_fingerprint(reader, plain, "machines['x']").gpus == ()


def _telemetry(mask: int = 0, others: int = 0) -> GpuTelemetry:
    samples = tuple(
        GpuSample(t / 50, util, 2192.8, 675.0 + t, 1980.0, 60.0 + t, mask)
        for t, util in enumerate((93.0, 95.0, 100.0))
    )
    return GpuTelemetry(0, samples, others)


def _measurement(gpu: GpuTelemetry | None) -> Measurement:
    result = LatencyResult("t::gpu", (1000, 1100, 1200), 1, 1, 0, 0.1)
    return Measurement("t::gpu", result, Verdict("t::gpu", "latency", Outcome.NEW), {}, gpu=gpu)


def test_telemetry_is_summarised_and_warns_on_throttling_and_shared_gpus() -> None:
    throttled = _measurement(_telemetry(mask=0x40, others=1))
    encoded = encode_gpu(throttled.gpu)
    assert encoded["utilization_pct"] == {"min": 93.0, "mean": 96.0, "max": 100.0}
    assert encoded["temperature_c"]["max"] == 62.0
    assert encoded["readings"] == 3
    assert gpu_warnings([throttled]) == [
        "t::gpu: GPU 0 slowed down during timing: hardware thermal slowdown",
        "t::gpu: GPU 0 had 1 other process(es) computing on it",
    ]
    assert gpu_warnings([_measurement(_telemetry()), _measurement(None)]) == []
    assert decode_measurements(encode_measurements([throttled])) == [throttled]


def test_series_keeps_first_last_and_every_slowdown_within_the_limit() -> None:
    # index 3 is not among the 500 kept of 1234: its slowdown moves to a kept neighbour
    masks = {3: 0x4, 1233: 0x80}
    samples = tuple(
        GpuSample(i * 0.0201, 50.04, 1000.06, 99.96, 1980.4, 60.0, masks.get(i, 0))
        for i in range(1234)
    )
    telemetry = GpuTelemetry(0, samples, 0)
    thinned = telemetry.downsampled()
    assert len(thinned.samples) == SERIES_LIMIT
    assert thinned.samples[0] == samples[0]
    assert thinned.samples[-1] == samples[-1]
    assert [s.t_s for s in thinned.samples] == sorted(s.t_s for s in thinned.samples)
    assert thinned.slowdowns == telemetry.slowdowns == ("software power cap", "power brake")
    assert telemetry.downsampled(len(samples)) is telemetry
    series = telemetry.series()
    assert set(series) == {f.name for f in dataclasses.fields(GpuSample)}
    assert series["t_s"][-1] == 24.783
    assert series["utilization_pct"][0] == 50.0
    assert series["memory_used_mib"][0] == 1000.1
    assert series["sm_clock_mhz"][0] == 1980.0
    assert sum(series["slowdown_mask"]) == 0x4 + 0x80
    with pytest.raises(ValueError, match="at least 2"):
        telemetry.downsampled(1)


def _fake_nvml(reads_before_release: int) -> tuple[types.ModuleType, threading.Event]:
    """A stand-in for ``pynvml`` (no GPU here): only for the sampler's bookkeeping.
    The event is set once the sampler has taken ``reads_before_release`` readings."""
    nvml = types.ModuleType("fake_pynvml")
    enough = threading.Event()
    reads = []

    def utilization(handle: object) -> types.SimpleNamespace:
        reads.append(handle)
        if len(reads) >= reads_before_release:
            enough.set()
        return types.SimpleNamespace(gpu=90 + len(reads) % 3)

    mine, other = types.SimpleNamespace(pid=os.getpid()), types.SimpleNamespace(pid=-1)
    nvml.__dict__.update(
        NVML_CLOCK_SM=1,
        NVML_TEMPERATURE_GPU=0,
        nvmlDeviceGetHandleByIndex=lambda index: f"gpu{index}",
        nvmlDeviceGetUtilizationRates=utilization,
        nvmlDeviceGetMemoryInfo=lambda handle: types.SimpleNamespace(used=3 * 2**30),
        nvmlDeviceGetPowerUsage=lambda handle: 250_500,
        nvmlDeviceGetClockInfo=lambda handle, clock: 1980,
        nvmlDeviceGetTemperature=lambda handle, sensor: 61,
        nvmlDeviceGetCurrentClocksEventReasons=lambda handle: 0x20 if len(reads) == 2 else 0,
        nvmlDeviceGetComputeRunningProcesses=lambda handle: [mine, other],
    )
    return nvml, enough


def test_sampler_bookkeeping_with_a_fake_nvml() -> None:
    nvml, enough = _fake_nvml(reads_before_release=3)
    with GpuSampler(nvml, 1, period_s=0.001) as sampler:
        assert enough.wait(timeout=30)
    telemetry = sampler.telemetry
    assert telemetry.index == 1
    assert telemetry.other_processes == 1
    assert len(telemetry.samples) >= 4  # the thread's readings, then one more at exit
    assert sampler.telemetry == telemetry  # the thread has stopped
    times = [s.t_s for s in telemetry.samples]
    assert times == sorted(times)
    assert times[0] >= 0
    assert {s.memory_used_mib for s in telemetry.samples} == {3072.0}
    assert {s.power_w for s in telemetry.samples} == {250.5}
    assert telemetry.slowdowns == ("software thermal slowdown",)


def test_cpu_only_runs_record_no_gpu_fields(project: pytest.Pytester) -> None:
    if collect_fingerprint().gpus:
        pytest.skip("this machine has a GPU")
    results = project.path / "results.json"
    run_ = project.runpytest(f"--infer-json={results}")
    run_.assert_outcomes(passed=1)
    assert "GPU" not in run_.stdout.str()
    document = json.loads(results.read_text())
    assert "gpus" not in document["fingerprint"]
    assert "gpu_telemetry" not in document["measurements"][0]


def test_timer_names_are_validated() -> None:
    assert resolve_timer("perf_counter") is None
    with pytest.raises(ValueError, match="timer must be one of perf_counter, cuda_events"):
        resolve_timer("wall")


def test_cuda_events_without_cuda_say_why() -> None:
    if _cuda_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="cuda_events"):
        resolve_timer("cuda_events")


def test_cuda_events_agree_with_the_synchronised_wall_clock() -> None:
    # Checked here, not at collection: importing torch is slow and only this test needs it.
    if not _cuda_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    import torch

    x = torch.randn(2048, 2048, device="cuda")
    plan = SamplingPlan(warmup_calls=5, warmup_s=0.1, min_samples=50, min_time_s=0.2)
    events = run(
        torch.mm, (x, x), setup=TimingSetup(plan=plan, events=resolve_timer("cuda_events"))
    )
    synced = run(torch.mm, (x, x), setup=TimingSetup(plan=plan, sync=resolve_sync("cuda")))
    ev = sorted(events.samples_ns)[len(events.samples_ns) // 2]
    wall = sorted(synced.samples_ns)[len(synced.samples_ns) // 2]
    assert abs(wall / ev - 1) < 0.2


def test_auto_sync_stays_off_on_the_cpu() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_initialized():
        pytest.skip("this process has a CUDA context")
    model = torch.nn.Linear(4, 4)
    x = torch.zeros(1, 4)
    assert resolve_sync(None, (x, {"input": x}, model, model.forward)) is None
    # torch imported, CUDA not initialised: a closure is not synchronised either
    assert resolve_sync(None, (lambda: model(x),)) is None
    assert not torch.cuda.is_initialized()  # deciding created no context
    assert resolve_sync("none", (x,)) is None
    with pytest.raises(ValueError, match='"cuda", "none" or None'):
        resolve_sync("gpu")


def test_auto_sync_follows_an_initialised_cuda_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision alone, without a GPU: once torch reports an initialised CUDA context, a
    closure (no argument on CUDA to see) is synchronised by default, and ``sync="none"``
    still opts out. The GPU test below times such a closure for real."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert resolve_sync(None, (lambda: None,)) is torch.cuda.synchronize
    assert resolve_sync(None, ()) is torch.cuda.synchronize
    assert resolve_sync("none", (lambda: None,)) is None


#: A CUDA model (4 x Linear(8192), batch 256: ~3 ms on an H100) timed three ways through
#: the fixture: default sync (chosen from the CUDA model), CUDA events, and no sync in a
#: window short enough (20 ms) that the launch queue never fills and blocks.
CUDA_MODULE = textwrap.dedent(
    """
    import pytest
    import torch

    LAYERS = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(4)])
    LAYERS = LAYERS.cuda().eval()
    X = torch.randn(256, 8192, device="cuda")

    @torch.inference_mode()
    def call():
        return LAYERS(X)

    def test_default_sync(infer_bench):
        infer_bench.measure(call, model=LAYERS)

    def test_cuda_events(infer_bench):
        infer_bench.measure(call, timer="cuda_events")

    @pytest.mark.infergate(warmup=2, min_samples=30, min_time_s=0, max_time_s=0.02)
    def test_no_sync(infer_bench):
        infer_bench.measure(call, sync="none")
    """
)


def test_cuda_model_through_the_fixture(pytester: pytest.Pytester) -> None:
    """On a GPU: the default synchronises, matching CUDA events within 5%; without sync
    the figure is the launch time; NVML telemetry covers the window; the trace ranks
    kernels by GPU time (subprocess: torch cannot be imported twice in one process)."""
    if not _cuda_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    pytester.makepyfile(test_cuda=CUDA_MODULE)
    results = pytester.path / "results.json"
    run_ = pytester.runpytest_subprocess(
        f"--infer-json={results}", "--infer-trace", "-p", "no:cacheprovider"
    )
    run_.assert_outcomes(passed=3)
    document = json.loads(results.read_text())
    by_test = {m["key"].rsplit("::", 1)[1]: m for m in document["measurements"]}
    synced, events = by_test["test_default_sync"]["p50_ms"], by_test["test_cuda_events"]["p50_ms"]
    assert abs(synced / events - 1) < 0.05, (synced, events)
    assert by_test["test_no_sync"]["p50_ms"] < 0.5 * events
    telemetry = by_test["test_default_sync"]["gpu_telemetry"]
    assert telemetry["readings"] >= 10
    assert telemetry["utilization_pct"]["max"] > 0
    assert document["fingerprint"]["gpus"][0]["name"].startswith("NVIDIA")
    assert "nvidia" in document["machine"]
    trace = by_test["test_default_sync"]["trace"]  # GPU time by kernel, not CPU waiting
    assert trace["runtime"].startswith("torch, CUDA kernels")
    assert not any(t["op_type"].startswith("cuda") for t in trace["by_type"])
    assert sum(t["share"] for t in trace["by_type"]) > 0.5  # a busy GPU
    print(run_.stdout.str()[-4000:])
    print(json.dumps({k: (m["p50_ms"], m.get("gpu_telemetry")) for k, m in by_test.items()}))


#: Closures over CUDA models, as users write them: no argument is on CUDA for auto sync
#: to see. fp16 and fp32 copies of 4 x Linear(8192), batch 256; CUDA events give each
#: arm's GPU time to check the synchronised wall clock against.
CLOSURE_MODULE = textwrap.dedent(
    """
    import torch

    torch.manual_seed(0)
    M32 = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(4)]).cuda().eval()
    M16 = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(4)]).cuda().half()
    X = torch.randn(256, 8192, device="cuda")
    XH = X.half()

    @torch.inference_mode()
    def fp32():
        return M32(X)

    @torch.inference_mode()
    def fp16():
        return M16.eval()(XH)

    def test_events(infer_bench):
        infer_bench.measure(fp32, name="fp32", timer="cuda_events")
        infer_bench.measure(fp16, name="fp16", timer="cuda_events")

    def test_closures(infer_bench):
        infer_bench.measure(lambda: fp32(), name="measure")
        infer_bench.compare(lambda: fp16(), lambda: fp32(), name="compare", max_slowdown="100%")
    """
)


def test_closures_over_a_cuda_model_are_synchronised(pytester: pytest.Pytester) -> None:
    """On a GPU: a closure's time (``measure``) matches CUDA events within 5%; in the
    interleaved ``compare`` of two closures the GPU-bound fp32 arm is within a quarter of
    its events time and the fp16 arm takes more than half its events time, so the ratio reads
    fp16 as clearly faster. Unsynchronised, every figure would be a launch time (tens of
    µs) and the ratio near 1 or upside down. The fp16 arm may read below its events
    time: an A/B sample groups calls to last 1 ms, and back-to-back calls hide the launch
    gaps that one synchronised call shows (on an H200: 0.236 ms against 0.313 ms).
    A subprocess: torch cannot be imported twice in one process."""
    if not _cuda_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    pytester.makepyfile(test_closures=CLOSURE_MODULE)
    results = pytester.path / "results.json"
    run_ = pytester.runpytest_subprocess(f"--infer-json={results}", "-p", "no:cacheprovider")
    run_.assert_outcomes(passed=2)
    by_name = {
        m["key"].rsplit("::", 1)[1]: m for m in json.loads(results.read_text())["measurements"]
    }
    events32, events16 = by_name["fp32"]["p50_ms"], by_name["fp16"]["p50_ms"]
    closure = by_name["measure"]["p50_ms"]
    ratio = by_name["compare"]["ratio"]
    print(run_.stdout.str()[-3000:])
    print(
        json.dumps(
            {
                "events_fp32_p50_ms": events32,
                "events_fp16_p50_ms": events16,
                "closure_fp32_p50_ms": closure,
                "compare_ratio": ratio,
                "events_ratio": events16 / events32,
                "compare_arms_p50_ms": [
                    by_name["compare"]["candidate"]["p50_ms"],
                    by_name["compare"]["reference"]["p50_ms"],
                ],
            }
        )
    )
    candidate, reference = (by_name["compare"][arm]["p50_ms"] for arm in ("candidate", "reference"))
    assert abs(closure / events32 - 1) < 0.05, (closure, events32)
    # Interleaved, an arm's samples also hold the switches between the two models: the
    # fp32 arm read +3.6% of its events time on an H200 and +6.8% on an H100
    # (benchmarks/results/gpu_closure_h100.txt). Unsynchronised it would read the launch
    # time, under a tenth, so a quarter either way still tells the two apart.
    assert 0.8 < reference / events32 < 1.25, (reference, events32)
    assert candidate > 0.5 * events16, (candidate, events16)
    assert ratio < 0.5  # fp16 is several times faster at this size
