"""What the CPU did during a timed window: process CPU time against wall time.

A model that should use four threads but shows a CPU/wall ratio of 1.0 is starved
(a thread setting, or other processes on the cores); one that shows 4.0 on a
2-core runner is oversubscribed. Neither shows in the latency alone. Reading the
clocks costs a few microseconds, once before and once after the window; torch is
asked for its thread count only when the test already imported it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuUsage:
    """CPU use of this process over one timed window.

    ``utilisation`` is CPU seconds per wall second (2.0: two cores busy on average);
    ``load_average`` is the machine's 1-minute load right after the window (``None``
    where the OS has none); ``torch_threads`` is ``torch.get_num_threads()`` when
    torch was imported.
    """

    wall_s: float
    process_cpu_s: float
    cores: int
    load_average: float | None = None
    torch_threads: int | None = None

    @property
    def utilisation(self) -> float:
        return self.process_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def overloaded(self) -> bool:
        """The machine had more runnable work than cores: latencies are inflated."""
        return self.load_average is not None and self.load_average > self.cores


class CpuWindow:
    """What ``with cpu_window() as window`` yields; ``window.usage`` is set when the block ends."""

    usage: CpuUsage | None = None


def load_average() -> float | None:
    """The 1-minute load average (``os.getloadavg``), or ``None`` where there is none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    get = getattr(torch, "get_num_threads", None)
    return int(get()) if callable(get) else None


@contextmanager
def cpu_window() -> Iterator[CpuWindow]:
    """Measure the process's CPU time and the wall time of the block."""
    window = CpuWindow()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield window
    finally:
        window.usage = CpuUsage(
            wall_s=time.perf_counter() - wall,
            process_cpu_s=time.process_time() - cpu,
            cores=os.cpu_count() or 1,
            load_average=load_average(),
            torch_threads=_torch_threads(),
        )
