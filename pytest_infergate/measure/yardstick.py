"""A fixed piece of work timed between the model's samples: the machine's speed right now.

A stored time moves with the speed of the core that ran it. On the lent H200 host the
same process's CPU p50 spread by sd(log) 0.17-0.25 between processes, quiet or with a
neighbour, and by core pair x0.92-x1.06 (``benchmarks/results/yardstick_h200_2.txt``):
vCPUs of a shared host run at the host's pace, which no history recorded in one sitting
shows. Such a change slows every instruction stream on the core alike, so the model's
time *in units of a fixed workload timed in the same thread, interleaved with it* stays
put while real extra work still shows: in units of this yardstick the spread was 0.080
quiet and 0.059 with a neighbour, and 22/24 layers instead of 20 read x1.099/x1.204
(x1.053/x1.157 in plain CPU time). The stored gate judges stored times at this run's
speed: each stored run's time scaled by this run's yardstick over that run's
(docs/design.md, "Machine speed").

The yardstick is float32 64x64 matrix products through ``numpy.einsum`` (numpy's own
SIMD loops, not BLAS: always one thread, so it needs no thread setting and wakes no BLAS
pool that would compete with the model), about 0.1 ms a call. Of the yardsticks tried
it tracked the ORT model best after BLAS GEMM itself (correlation of log CPU times 0.89;
a Python loop 0.82, element-wise numpy 0.31).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

#: Side of the yardstick's matrices.
SIZE = 64

#: Wall time of one block of yardstick calls, and the sampling time between blocks: about
#: 4% of a measurement goes to the yardstick, in blocks spread through it so that a speed
#: phase lasting seconds falls on the model and the yardstick alike.
BLOCK_NS = 10_000_000
EVERY_NS = 250_000_000

#: The quantile of a run's yardstick calls that stands for its pace (:func:`pace_ms`).
PACE_QUANTILE = 0.10

#: Blocks a run needs before its pace is trusted to scale stored times (:func:`pace_noise`):
#: a run of the default 1 s of sampling times 5 or 6.
MIN_BLOCKS = 4


def make_yardstick() -> Callable[[], object]:
    """The yardstick: a fixed chain of two 64x64 float32 products (numpy imported here,
    when a measurement starts, never at plugin import)."""
    import numpy as np

    m = (np.random.default_rng(4).standard_normal((SIZE, SIZE)) / SIZE).astype(np.float32)

    def work() -> object:
        x = np.einsum("ij,jk->ik", m, m)
        return np.einsum("ij,jk->ik", m, x)

    return work


def time_block(work: Callable[[], object], cpu: Callable[[], int]) -> list[int]:
    """CPU time (ns, on ``cpu``) of each yardstick call of one block of :data:`BLOCK_NS`."""
    perf = time.perf_counter_ns
    stop = perf() + BLOCK_NS
    out = []
    while perf() < stop:
        c0 = cpu()
        work()
        out.append(cpu() - c0)
    return out


def pace_ms(calls_ns: Sequence[int]) -> float:
    """The run's pace (ms a yardstick call): the :data:`PACE_QUANTILE` of its calls
    (nearest rank), not their median.

    What slows a short run's yardstick without slowing the core's pace comes in bursts
    (a neighbour's time slice, the hypervisor taking the vCPU) that stretch some calls and
    never shorten one, so a low quantile reads the core and a median reads whichever
    block a burst hit. On the 2-core EPYC runner, eight fresh 0.5 s runs read medians of
    96-152 us a call (one of two blocks at 157 us) but 10th percentiles of 91-105 us
    (docs/design.md, "Machine speed"). A change of pace that lasts (another CPU, a
    slower clock, a sibling thread sharing the core) moves every call, so it moves this
    quantile too.
    """
    if not calls_ns:
        raise ValueError("pace_ms needs at least one yardstick call")
    ordered = sorted(calls_ns)
    rank = max(0, math.ceil(PACE_QUANTILE * len(ordered)) - 1)
    return ordered[rank] / 1e6


def block_paces_ms(calls_ns: Sequence[int], block_sizes: Sequence[int]) -> list[float]:
    """The pace (:func:`pace_ms`) of each block of a run, from its calls and the number
    of calls in each block."""
    if sum(block_sizes) != len(calls_ns):
        raise ValueError(f"{sum(block_sizes)} calls in the blocks, {len(calls_ns)} timed")
    paces, start = [], 0
    for size in block_sizes:
        if size:
            paces.append(pace_ms(calls_ns[start : start + size]))
        start += size
    return paces


def pace_noise(calls_ns: Sequence[int], block_sizes: Sequence[int]) -> float | None:
    """How far the pace wandered within this run: the standard deviation of the log of
    its blocks' paces; ``None`` with fewer than :data:`MIN_BLOCKS` blocks, too few to say.

    A run's pace is one reading of a quantity that wanders on its own: on the 2-core EPYC
    runner the blocks of one quiet process read 95-125 us a call in turn, and ten fresh
    2 s processes 96-113 us (sd of log 0.061, the ORT-like model's own 0.030), so a move
    between two runs is the machine's pace only when it is large against this wander
    (docs/design.md, "Machine speed"). A run of one or two blocks shows no wander at all,
    which is not evidence that there was none.
    """
    paces = block_paces_ms(calls_ns, block_sizes)
    if len(paces) < MIN_BLOCKS:
        return None
    logs = [math.log(p) for p in paces]
    mean = sum(logs) / len(logs)
    return math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
