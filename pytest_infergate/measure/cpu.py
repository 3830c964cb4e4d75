"""What the CPU did during a timed window: process CPU time against wall time.

A model that should use four threads but shows a CPU/wall ratio of 1.0 is starved
(a thread setting, or other processes on the cores); one that shows 4.0 on a
2-core runner is oversubscribed. Neither shows in the latency alone. Reading the
clocks costs a few microseconds, once before and once after the window; torch is
asked for its thread count only when the test already imported it.

Where Linux keeps scheduler statistics (``/proc/self/task/*/schedstat``), the window
also records how long this process's threads were ready to run but waited for a
core (the run-queue delay). That tells a call starved by other jobs from one that
waits on its own (a sleep, a lock, I/O, a blocking GPU sync): both show less CPU
time per wall second, only the first waits in the run queue.
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
    #: Time the process's threads spent ready to run but waiting for a core, summed over
    #: the threads (``None`` where the OS does not say).
    run_queue_wait_s: float | None = None

    @property
    def utilisation(self) -> float:
        return self.process_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def waiting_share(self) -> float | None:
        """Run-queue wait per wall second (0.5: a thread waited half the window for a
        core); ``None`` where the OS keeps no scheduler statistics."""
        if self.run_queue_wait_s is None or self.wall_s <= 0:
            return None
        return self.run_queue_wait_s / self.wall_s

    @property
    def overloaded(self) -> bool:
        """The machine had more runnable work than cores: latencies are inflated."""
        return self.load_average is not None and self.load_average > self.cores


class CpuWindow:
    """What ``with cpu_window() as window`` yields; ``window.usage`` is set when the block
    ends, and :meth:`so_far` reads the window up to now (for a decision while sampling)."""

    usage: CpuUsage | None = None

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._waited = run_queue_wait_ns()

    def so_far(self) -> CpuUsage:
        """The window's CPU use from its start until now."""
        waited = run_queue_wait_ns()
        return CpuUsage(
            wall_s=time.perf_counter() - self._wall,
            process_cpu_s=time.process_time() - self._cpu,
            cores=os.cpu_count() or 1,
            load_average=load_average(),
            torch_threads=_torch_threads(),
            run_queue_wait_s=(
                (waited - self._waited) / 1e9
                if waited is not None and self._waited is not None
                else None
            ),
        )


def run_queue_wait_ns() -> int | None:
    """Run-queue delay of every thread of this process so far (ns), from Linux's
    ``/proc/self/task/*/schedstat`` (second field); ``None`` where it is missing. A
    thread that ends between two readings takes its share with it: the windows it is
    read over hold the timed calls' threads, which live on."""
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/schedstat", encoding="ascii") as stream:
                fields = stream.read().split()
        except OSError:
            continue  # the thread ended, or the file is missing
        if len(fields) < 2 or not fields[1].isdigit():
            return None
        total += int(fields[1])
    return total if tasks else None


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
    """Measure the process's CPU time, the wall time and the run-queue wait of the block."""
    window = CpuWindow()
    try:
        yield window
    finally:
        window.usage = window.so_far()
