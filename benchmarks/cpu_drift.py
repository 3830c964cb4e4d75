"""How much does a call's CPU cost drift between processes, sittings and contention levels?

The stored gate's CPU-cost rule allows for drift it cannot see in a history recorded in
one sitting; this script measures that drift so the allowance is a measured figure. Each
measurement is a fresh Python process that times a real workload with the plugin's own
loop (:func:`pytest_infergate.measure.timing.run`, 0.3 s warm-up, 1 s of samples) and prints the
median wall time and median CPU time per call (the calling thread's clock: onnxruntime
with one intra-op thread computes on the calling thread). The workload is an onnxruntime
session of an MLP built with ``onnx.helper`` (20 Gemm+Relu layers of width 256, batch
256; ``--depths`` adds deeper models: real extra work, to size a regression).

Conditions, each pinned with ``taskset`` to its own cores so that several measure at
once on a many-core machine (one *slot* per core pair, the last two cores left to the
orchestrator):

* ``quiet``   the process alone on 2 cores (a 2-core runner);
* ``noisy2``  the same 2 cores shared with 2 busy loops and one periodic neighbour
              (30 ms busy, 30 ms idle), all pinned to those 2 cores;
* ``noisy1``  one core shared with a busy loop and the periodic neighbour.

Every slot cycles through the conditions in a shuffled order, so slow phases of the
machine fall on every condition alike. The first and second half of the run are kept
apart (``half``), to compare the two; a second run of the script, another day or on
another machine, is another sitting.

    python benchmarks/cpu_drift.py --seconds 180 --out cpu_drift.jsonl
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

REPO = Path(__file__).resolve().parents[1]
CONDITIONS = ("quiet", "noisy2", "noisy1")

BUILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    width, depth, batch, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "x"
    for i in range(depth):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        weights += [numpy_helper.from_array(w, f"w{i}"),
                    numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}")]
        nodes += [helper.make_node("Gemm", [previous, f"w{i}", f"b{i}"], [f"h{i}"]),
                  helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
        previous = f"r{i}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [batch, width])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    open(path, "wb").write(model.SerializeToString())
    """
)

MEASURE = textwrap.dedent(
    """
    import json, os, statistics, sys, time
    import numpy as np
    import onnxruntime as ort
    from pytest_infergate.measure.timing import SamplingPlan, TimingSetup, run

    path, batch, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"x": np.random.default_rng(1).standard_normal((batch, width)).astype(np.float32)}
    plan = SamplingPlan(warmup_calls=10, warmup_s=0.3, min_samples=100, min_time_s=1.0,
                        max_time_s=4.0)
    t = run(sess.run, (None, feed), setup=TimingSetup(plan=plan))
    wall, cpu = statistics.median(t.samples_ns) / 1e6, statistics.median(t.cpu_samples_ns) / 1e6
    print(json.dumps({
        "wall_p50_ms": wall, "cpu_p50_ms": cpu, "clock": t.cpu_clock, "n": len(t.samples_ns),
        "share": sum(t.cpu_samples_ns) / sum(t.samples_ns),
        "load": os.getloadavg()[0],
    }))
    """
)

BUSY = "while True: pass"
PERIODIC = textwrap.dedent(
    """
    import time
    while True:
        end = time.perf_counter() + 0.030
        while time.perf_counter() < end:
            pass
        time.sleep(0.030)
    """
)


def neighbours(condition: str, cores: str) -> list[subprocess.Popen[bytes]]:
    """Start the condition's neighbour processes pinned to ``cores``."""
    if condition == "quiet":
        return []
    codes = [BUSY, BUSY, PERIODIC] if condition == "noisy2" else [BUSY, PERIODIC]
    return [
        subprocess.Popen(["taskset", "-c", cores, sys.executable, "-c", code]) for code in codes
    ]


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
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cells = [(c, args.depths[0]) for c in CONDITIONS]
    cells += [("quiet", d) for d in args.depths[1:]]
    while time.monotonic() < deadline:
        rng.shuffle(cells)
        for condition, depth in cells:
            if time.monotonic() >= deadline:
                return
            cores = f"{pair[0]}" if condition == "noisy1" else f"{pair[0]},{pair[1]}"
            others = neighbours(condition, cores)
            try:
                time.sleep(0.2)  # let the neighbours settle onto the cores
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
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
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
            elapsed = time.monotonic() - start
            row.update(slot=slot, condition=condition, depth=depth, t_s=round(elapsed, 1))
            with lock:
                rows.append(row)


def summarise(rows: list[dict[str, object]], base_depth: int) -> list[str]:
    """Per condition: median wall and CPU p50, their spread across processes (log-sd), and
    each against the quiet runs' median; then the halves and the slots."""

    def logsd(values: list[float]) -> float:
        logs = [math.log(v) for v in values]
        return statistics.stdev(logs) if len(logs) > 1 else float("nan")

    base = [r for r in rows if r["depth"] == base_depth]
    quiet = [r for r in base if r["condition"] == "quiet"]
    if not quiet:
        return ["no quiet runs"]
    q_wall = statistics.median(float(str(r["wall_p50_ms"])) for r in quiet)
    q_cpu = statistics.median(float(str(r["cpu_p50_ms"])) for r in quiet)
    header = (
        f"{'condition':18} {'runs':>4} {'wall p50':>9} {'x quiet':>7} {'sd(log)':>7} "
        f"{'cpu p50':>8} {'x quiet':>7} {'sd(log)':>7} {'cpu max/q':>9} {'share':>5}"
    )
    lines = [header, "-" * len(header)]
    groups: list[tuple[str, list[dict[str, object]]]] = []
    for condition in CONDITIONS:
        groups.append((condition, [r for r in base if r["condition"] == condition]))
    for depth in sorted({int(str(r["depth"])) for r in rows} - {base_depth}):
        groups.append((f"quiet depth {depth}", [r for r in rows if r["depth"] == depth]))
    for name, group in groups:
        if not group:
            continue
        wall = [float(str(r["wall_p50_ms"])) for r in group]
        cpu = [float(str(r["cpu_p50_ms"])) for r in group]
        share = statistics.median(float(str(r["share"])) for r in group)
        lines.append(
            f"{name:18} {len(group):>4} {statistics.median(wall):>9.3f} "
            f"{statistics.median(wall) / q_wall:>7.3f} {logsd(wall):>7.3f} "
            f"{statistics.median(cpu):>8.3f} {statistics.median(cpu) / q_cpu:>7.3f} "
            f"{logsd(cpu):>7.3f} {max(cpu) / q_cpu:>9.3f} {share:>5.2f}"
        )
    t_end = max(float(str(r["t_s"])) for r in rows)
    for condition in CONDITIONS:
        halves = []
        for half in (0, 1):
            cpu = [
                float(str(r["cpu_p50_ms"]))
                for r in base
                if r["condition"] == condition and (float(str(r["t_s"])) >= t_end / 2) == bool(half)
            ]
            halves.append(f"{statistics.median(cpu) / q_cpu:.3f} ({len(cpu)})" if cpu else "-")
        lines.append(f"{condition}: cpu p50 x quiet, first half {halves[0]}, second {halves[1]}")
    slots = sorted({int(str(r["slot"])) for r in quiet})
    per_slot = [
        statistics.median(float(str(r["cpu_p50_ms"])) for r in quiet if r["slot"] == s) / q_cpu
        for s in slots
    ]
    lines.append("quiet cpu p50 per slot x quiet: " + ", ".join(f"{v:.3f}" for v in per_slot))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="measuring time")
    parser.add_argument("--slots", type=int, help="core pairs used (default: all but one)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--depths", default="20", help="comma-separated layer counts; the first is the base"
    )
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--out", type=Path, help="write every process's figures here (JSON lines)")
    args = parser.parse_args(argv)
    args.depths = [int(d) for d in args.depths.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    pairs = [(cores[i], cores[i + 1]) for i in range(0, len(cores) - 1, 2)][:-1] or [
        (cores[0], cores[-1])
    ]
    if args.slots:
        pairs = pairs[: args.slots]
    work = Path(tempfile.mkdtemp(prefix="infergate-cpu-drift-"))
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
    print(f"cpu_drift: {len(pairs)} slots {pairs}, {args.seconds:.0f} s", flush=True)
    rows: list[dict[str, object]] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [
        threading.Thread(
            target=slot_loop, args=(i, pair, models, args, deadline, start, rows, lock)
        )
        for i, pair in enumerate(pairs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(
        f"\ncpu_drift: MLP {args.width}x{args.depths[0]}, batch {args.batch}, 1 ORT thread; "
        f"{len(rows)} processes in {elapsed / 60:.1f} min on {len(pairs)} slots"
    )
    for line in summarise(rows, args.depths[0]):
        print(line)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
