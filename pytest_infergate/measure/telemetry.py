"""GPU facts and telemetry through NVML (the ``nvidia-ml-py`` package, module ``pynvml``).

Everything here degrades to "nothing recorded" when pynvml is not installed or
no NVIDIA driver is present: :func:`open_nvml` returns ``None`` and callers skip
the GPU fields, without errors or warnings.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

#: Clock-event reasons that mean the GPU slowed itself down: the timing is not representative.
#: Values from NVML's ``nvmlClocksEventReason*`` constants.
SLOWDOWN_REASONS = {
    0x4: "software power cap",
    0x8: "hardware slowdown",
    0x20: "software thermal slowdown",
    0x40: "hardware thermal slowdown",
    0x80: "power brake",
}

#: Most readings a results file keeps per measurement: a 10 s window at 20 ms, and a
#: chart that stays readable.
SERIES_LIMIT = 500
#: Decimals each reading field keeps in the results file: NVML reports utilisation and
#: temperature as whole numbers, power in milliwatts, so more would be noise in the diff.
SERIES_DECIMALS = {
    "t_s": 3,
    "utilization_pct": 1,
    "memory_used_mib": 1,
    "power_w": 1,
    "sm_clock_mhz": 0,
    "temperature_c": 1,
}


def open_nvml() -> ModuleType | None:
    """``pynvml`` after a successful ``nvmlInit()``, or ``None`` without a usable GPU."""
    try:
        import pynvml
    except ModuleNotFoundError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    module: ModuleType = pynvml
    return module


@dataclass(frozen=True)
class GpuFacts:
    """What a GPU is: part of the machine fingerprint."""

    index: int
    name: str
    memory_gib: float
    driver: str
    cuda_driver: str
    compute_capability: str


def gpu_facts(nvml: ModuleType) -> tuple[GpuFacts, ...]:
    """Facts of every GPU NVML sees."""
    driver = _text(nvml.nvmlSystemGetDriverVersion())
    cuda = int(nvml.nvmlSystemGetCudaDriverVersion())
    cuda_driver = f"{cuda // 1000}.{cuda % 1000 // 10}"
    facts = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        facts.append(
            GpuFacts(
                index=index,
                name=_text(nvml.nvmlDeviceGetName(handle)),
                memory_gib=round(nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 1),
                driver=driver,
                cuda_driver=cuda_driver,
                compute_capability=f"{major}.{minor}",
            )
        )
    return tuple(facts)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class GpuSample:
    """One telemetry reading; ``t_s`` counts from the start of the timed window."""

    t_s: float
    utilization_pct: float
    memory_used_mib: float
    power_w: float
    sm_clock_mhz: float
    temperature_c: float
    slowdown_mask: int


@dataclass(frozen=True)
class GpuTelemetry:
    """Readings of one GPU over a timed window, and what they say about it."""

    index: int
    samples: tuple[GpuSample, ...]
    other_processes: int

    def stats(self, field: str) -> tuple[float, float, float]:
        """(min, mean, max) of a :class:`GpuSample` field over the window."""
        values = [float(getattr(s, field)) for s in self.samples]
        if not values:
            return (0.0, 0.0, 0.0)
        return (min(values), sum(values) / len(values), max(values))

    @property
    def slowdowns(self) -> tuple[str, ...]:
        """Thermal or power slowdowns seen at any reading."""
        mask = 0
        for sample in self.samples:
            mask |= sample.slowdown_mask
        return tuple(reason for bit, reason in SLOWDOWN_REASONS.items() if mask & bit)

    def warnings(self) -> tuple[str, ...]:
        """What a reader of the timing should know: throttling, a shared GPU."""
        notes = [f"GPU {self.index} slowed down during timing: {r}" for r in self.slowdowns]
        if self.other_processes:
            notes.append(
                f"GPU {self.index} had {self.other_processes} other process(es) computing on it"
            )
        return tuple(notes)

    def downsampled(self, limit: int = SERIES_LIMIT) -> GpuTelemetry:
        """At most ``limit`` readings, evenly spaced by index, first and last kept.

        Each kept reading carries the slowdown bits of the readings it stands for, so a
        brief throttle is never thinned away: :attr:`slowdowns` stays the same.
        """
        n = len(self.samples)
        if limit < 2:
            raise ValueError(f"a series needs a limit of at least 2 readings, got {limit}")
        if n <= limit:
            return self
        kept = []
        start = 0
        for i in range(limit):
            index = round(i * (n - 1) / (limit - 1))
            mask = 0
            for sample in self.samples[start : index + 1]:
                mask |= sample.slowdown_mask
            kept.append(replace(self.samples[index], slowdown_mask=mask))
            start = index + 1
        return replace(self, samples=tuple(kept))

    def series(self, limit: int = SERIES_LIMIT) -> dict[str, list[float]]:
        """The readings as parallel arrays, one per :class:`GpuSample` field, downsampled
        to ``limit`` and rounded to :data:`SERIES_DECIMALS`: compact in the results file."""
        samples = self.downsampled(limit).samples
        columns: dict[str, list[float]] = {
            name: [round(getattr(s, name), digits) for s in samples]
            for name, digits in SERIES_DECIMALS.items()
        }
        columns["slowdown_mask"] = [s.slowdown_mask for s in samples]
        return columns


class GpuSampler:
    """Samples one GPU every ``period_s`` in a background thread while the block runs.

    ``with GpuSampler(nvml, index) as sampler: ...`` then ``sampler.telemetry``.
    NVML calls take tens of microseconds and release the GIL, so the timed
    thread is barely disturbed at a 20 ms period.
    """

    def __init__(self, nvml: ModuleType, index: int = 0, period_s: float = 0.02) -> None:
        self._nvml = nvml
        self._index = index
        self._period_s = period_s
        self._handle: Any = nvml.nvmlDeviceGetHandleByIndex(index)
        self._samples: list[GpuSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="infergate-gpu", daemon=True)
        self._start = 0.0
        self._other_processes = 0

    def _read(self) -> GpuSample:
        nvml, handle = self._nvml, self._handle
        return GpuSample(
            t_s=time.perf_counter() - self._start,
            utilization_pct=float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
            memory_used_mib=nvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20,
            power_w=nvml.nvmlDeviceGetPowerUsage(handle) / 1000,
            sm_clock_mhz=float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
            temperature_c=float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
            slowdown_mask=int(nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._samples.append(self._read())
            self._stop.wait(self._period_s)

    def __enter__(self) -> GpuSampler:

        self._start = time.perf_counter()
        processes = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        self._other_processes = sum(1 for p in processes if p.pid != os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._samples.append(self._read())

    @property
    def telemetry(self) -> GpuTelemetry:
        return GpuTelemetry(self._index, tuple(self._samples), self._other_processes)
