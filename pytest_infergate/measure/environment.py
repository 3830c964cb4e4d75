"""Which machine measured a latency: the fingerprint stored beside each profile.

Absolute latencies are only comparable on like machines, so each stored latency
is keyed by a *machine profile id* derived from the fingerprint (CPU model and
core count) unless the user names the profile (``--infer-machine``). Library
versions are read from package metadata, never by importing the library.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pytest_infergate.measure.telemetry import GpuFacts, gpu_facts, open_nvml

#: Libraries whose installed version changes inference speed.
TRACKED_LIBRARIES = ("numpy", "onnxruntime", "torch", "transformers", "optimum", "optimum-onnx")

#: Environment variables that change how many threads a runtime uses.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Fingerprint:
    """Facts about the machine and software stack a measurement ran on."""

    cpu: str
    cores: int
    ram_gib: float
    os: str
    arch: str
    python: str
    libraries: dict[str, str] = field(default_factory=dict)
    thread_env: dict[str, str] = field(default_factory=dict)
    #: The NVIDIA GPUs NVML sees (empty without a GPU, a driver or ``nvidia-ml-py``).
    gpus: tuple[GpuFacts, ...] = ()

    def profile_id(self) -> str:
        """A short, stable id for machines like this one, e.g. ``intel-xeon-8480-2c``, or
        ``intel-xeon-8480-2c-nvidia-h100-80gb-hbm3`` with a GPU (``-2x...`` for two)."""
        cpu = f"{_slug(self.cpu)}-{self.cores}c"
        if not self.gpus:
            return cpu
        count = f"{len(self.gpus)}x-" if len(self.gpus) > 1 else ""
        return f"{cpu}-{count}{_slug(self.gpus[0].name)}"


def _slug(text: str) -> str:
    words = re.sub(r"\((r|tm)\)|\bcpu\b|@.*$|\bprocessor\b", " ", text.lower())
    words = re.sub(r"\b(\d+(th|rd|nd|st) gen|core|with|radeon graphics)\b", " ", words)
    return re.sub(r"[^a-z0-9]+", "-", words).strip("-") or "unknown-cpu"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0.0
    return round(pages * page_size / 2**30, 1)


def _installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def collect_fingerprint() -> Fingerprint:
    """Read this machine's fingerprint (a few milliseconds; call once per session)."""
    return Fingerprint(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        ram_gib=_ram_gib(),
        os=platform.platform(terse=True),
        arch=platform.machine(),
        python=platform.python_version(),
        libraries=_installed_versions(TRACKED_LIBRARIES),
        thread_env={k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        gpus=_gpus(),
    )


def _gpus() -> tuple[GpuFacts, ...]:
    nvml = open_nvml()
    if nvml is None:
        return ()
    try:
        return gpu_facts(nvml)
    except nvml.NVMLError:
        return ()
