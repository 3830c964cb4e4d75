"""Does a fixed yardstick, timed beside the model in the same thread, cancel machine speed?

A stored CPU cost still moves with the core it ran on: on the lent H200 host the same
process read x0.74-x1.04 by core pair, and speed phases of x1.4-x1.9 lasted tens of
seconds, quiet or not (docs/design.md, "CPU cost"). Those changes slow every instruction
stream on that core, so the model's cost *in units of a fixed piece of work timed in the
same process, interleaved with it* should not move, while real extra work in the model
still does. This script measures how far that holds, for three yardsticks:

* ``py``    a pure-Python integer loop (interpreter: branches, integer ALU);
* ``np``    numpy float32 element-wise multiply-adds over 64 Ki elements (SIMD, L2);
* ``gemm``  numpy float32 64x64 matrix products (BLAS; ``OPENBLAS_NUM_THREADS=1``);
* ``einsum`` the same products through ``numpy.einsum`` (numpy's own SIMD loops, no BLAS:
            always one thread, so it needs no thread setting and wakes no BLAS pool).

Each measurement is a fresh process pinned with ``taskset`` (one slot per core pair, as
in ``cpu_drift.py``) that alternates blocks of ~25 ms of model calls and of each
yardstick in ABBA order for ``--process-seconds``, recording the calling thread's CPU
time per call. Conditions: ``quiet``, ``noisy2`` (2 busy loops + a 30/30 ms periodic
loop on the same 2 cores), and quiet runs of deeper models (``--depths``: real extra
work). The table gives, per condition, the spread across processes (sd of log) and the
change against the quiet runs, of the model's CPU p50 alone and divided by each
yardstick's.

    python benchmarks/yardstick.py --seconds 150 --depths 20,22,24
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_drift import BUILD, REPO, neighbours

YARDSTICKS = ("py", "np", "gemm", "einsum")

MEASURE = textwrap.dedent(
    """
    import json, os, statistics, sys, time
    import numpy as np
    import onnxruntime as ort

    path, batch, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds = float(sys.argv[4])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"x": np.random.default_rng(1).standard_normal((batch, width)).astype(np.float32)}
    a = np.random.default_rng(2).standard_normal(65536).astype(np.float32)
    b = np.random.default_rng(3).standard_normal(65536).astype(np.float32)
    c = np.empty_like(a)
    m = np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32)

    def model():
        sess.run(None, feed)

    def py():
        t = 0
        for i in range(20000):
            t += i * i % 7
        return t

    def elementwise():
        for _ in range(8):
            np.multiply(a, b, out=c)
            np.add(c, a, out=c)

    def gemm():
        x = m
        for _ in range(16):
            x = m @ x
            x *= 0.125

    def einsum():
        x = m
        for _ in range(2):
            x = np.einsum("ij,jk->ik", m, x)
            x *= 0.125

    arms = {"model": model, "py": py, "np": elementwise, "gemm": gemm, "einsum": einsum}
    for fn in arms.values():
        for _ in range(5):
            fn()
    cpu = {k: [] for k in arms}
    wall = {k: [] for k in arms}
    order = list(arms)
    end = time.perf_counter() + seconds
    block = 0
    while time.perf_counter() < end:
        names = order if block % 2 == 0 else order[::-1]
        for name in names:
            fn = arms[name]
            stop = time.perf_counter() + 0.025
            while time.perf_counter() < stop:
                c0 = time.thread_time_ns(); w0 = time.perf_counter_ns()
                fn()
                w1 = time.perf_counter_ns(); c1 = time.thread_time_ns()
                cpu[name].append(c1 - c0); wall[name].append(w1 - w0)
        block += 1
    out = {f"cpu_{k}": statistics.median(v) / 1e6 for k, v in cpu.items()}
    out.update({f"wall_{k}": statistics.median(v) / 1e6 for k, v in wall.items()})
    out["n_model"] = len(cpu["model"])
    print(json.dumps(out))
    """
)


def slot_loop(
    slot: int,
    pair: tuple[int, int],
    models: dict[int, Path],
    args: argparse.Namespace,
    deadline: float,
    start: float,
    rows: list[dict[str, object]],
    lock: threading.Lock,
) -> None:
    rng = random.Random(args.seed + slot)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cells = [("quiet", args.depths[0]), ("noisy2", args.depths[0])]
    cells += [("quiet", d) for d in args.depths[1:]]
    cores = f"{pair[0]},{pair[1]}"
    while time.monotonic() < deadline:
        rng.shuffle(cells)
        for condition, depth in cells:
            if time.monotonic() >= deadline:
                return
            others = neighbours(condition, cores)
            try:
                time.sleep(0.2)
                proc = subprocess.run(
                    [
                        "taskset",
                        "-c",
                        cores,
                        sys.executable,
                        "-c",
                        MEASURE,
                        str(models[depth]),
                        str(args.batch),
                        str(args.width),
                        str(args.process_seconds),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            finally:
                for p in others:
                    p.kill()
                for p in others:
                    p.wait()
            if proc.returncode != 0:
                print(f"slot {slot}: measuring failed:\n{proc.stderr}", flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(
                slot=slot, condition=condition, depth=depth, t_s=round(time.monotonic() - start, 1)
            )
            with lock:
                rows.append(row)


def summarise(rows: list[dict[str, object]], base_depth: int) -> list[str]:
    def f(r: dict[str, object], k: str) -> float:
        return float(str(r[k]))

    def figure(r: dict[str, object], unit: str) -> float:
        return f(r, "cpu_model") if unit == "-" else f(r, "cpu_model") / f(r, f"cpu_{unit}")

    def logsd(values: list[float]) -> float:
        return statistics.stdev(math.log(v) for v in values) if len(values) > 1 else math.nan

    units = ["-", *YARDSTICKS]
    quiet = [r for r in rows if r["condition"] == "quiet" and r["depth"] == base_depth]
    if not quiet:
        return ["no quiet runs"]
    ref = {u: statistics.median(figure(r, u) for r in quiet) for u in units}
    head = f"{'condition':16} {'runs':>4} " + " ".join(
        f"{('cpu' if u == '-' else 'cpu/' + u):>10} {'x quiet':>7} {'sd(log)':>7}" for u in units
    )
    lines = [head, "-" * len(head)]
    groups = [
        ("quiet", quiet),
        ("noisy2", [r for r in rows if r["condition"] == "noisy2" and r["depth"] == base_depth]),
    ]
    for depth in sorted({int(str(r["depth"])) for r in rows} - {base_depth}):
        groups.append((f"quiet depth {depth}", [r for r in rows if r["depth"] == depth]))
    for name, group in groups:
        if not group:
            continue
        cells = []
        for u in units:
            values = [figure(r, u) for r in group]
            cells.append(
                f"{statistics.median(values):>10.4f} {statistics.median(values) / ref[u]:>7.3f} "
                f"{logsd(values):>7.3f}"
            )
        lines.append(f"{name:16} {len(group):>4} " + " ".join(cells))
    slots = sorted({int(str(r["slot"])) for r in quiet})
    for u in units:
        per_slot = [
            statistics.median(figure(r, u) for r in quiet if r["slot"] == s) / ref[u] for s in slots
        ]
        lines.append(
            f"quiet per slot x quiet, {('cpu' if u == '-' else 'cpu/' + u):9}: "
            + ", ".join(f"{v:.3f}" for v in per_slot)
        )
    for u in YARDSTICKS:  # how much of the model's spread the yardstick's explains
        xs = [math.log(f(r, f"cpu_{u}")) for r in quiet]
        ys = [math.log(f(r, "cpu_model")) for r in quiet]
        if len(xs) > 2 and statistics.stdev(xs) > 0:
            slope = statistics.covariance(xs, ys) / statistics.variance(xs)
            corr = statistics.correlation(xs, ys)
            lines.append(f"quiet, log cpu vs log {u}: slope {slope:.2f}, correlation {corr:.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="measuring time")
    parser.add_argument("--process-seconds", type=float, default=2.0)
    parser.add_argument("--slots", type=int, help="core pairs used (default: all but one)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--depths", default="20,22,24")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    args.depths = [int(d) for d in args.depths.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    pairs = [(cores[i], cores[i + 1]) for i in range(0, len(cores) - 1, 2)][:-1] or [
        (cores[0], cores[-1])
    ]
    if args.slots:
        pairs = pairs[: args.slots]
    work = Path(tempfile.mkdtemp(prefix="infergate-yardstick-"))
    models = {}
    for depth in args.depths:
        models[depth] = work / f"mlp{depth}.onnx"
        subprocess.run(
            [
                sys.executable,
                "-c",
                BUILD,
                str(args.width),
                str(depth),
                str(args.batch),
                str(models[depth]),
            ],
            check=True,
        )
    print(f"yardstick: {len(pairs)} slots {pairs}, {args.seconds:.0f} s", flush=True)
    rows: list[dict[str, object]] = []
    lock = threading.Lock()
    start = time.monotonic()
    threads = [
        threading.Thread(
            target=slot_loop, args=(i, p, models, args, start + args.seconds, start, rows, lock)
        )
        for i, p in enumerate(pairs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        f"\nyardstick: MLP {args.width}x{args.depths[0]}, batch {args.batch}, 1 ORT thread; "
        f"{len(rows)} processes in {(time.monotonic() - start) / 60:.1f} min on {len(pairs)} slots"
    )
    for line in summarise(rows, args.depths[0]):
        print(line)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
