"""How far apart do two processes of the same code read, under ``--infer-against``?

A/A sessions: a temporary git repository holds ``--tests`` tests that each time the same
onnxruntime MLP (``gate_quality.py``'s contention workload: 256 x 20 Gemm+Relu layers,
batch 256, one thread); every session runs ``pytest --infer-against=HEAD`` on the
unchanged working tree, so the ratio each measurement reads is the offset between the
leader's process and the companion's, plus sampling noise. The peer, in the same
sessions: ``infer_bench.compare()`` of the same model against a second session of it in
one process (the companion waits while it runs). With ``--noisy`` two busy loops and a
periodic one (30 ms busy, 30 ms idle) are pinned to the same cores for every session.

    python benchmarks/against_offset.py --sessions 8 --cores 0,1
    python benchmarks/against_offset.py --sessions 8 --cores 0,1 --noisy
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate_quality import (
    BUILD_MLP,
    NEIGHBOUR_BUSY,
    NEIGHBOUR_PERIODIC,
    REPO,
    pytest_cmd,
)

TESTS = """
import numpy as np
import onnxruntime as ort
import pytest
from pathlib import Path

def session():
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    path = Path(__file__).with_name("mlp.onnx")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

X = np.random.default_rng(1).standard_normal((256, 256)).astype(np.float32)

@pytest.mark.parametrize("copy", range({tests}))
def test_against(infer_bench, copy):
    infer_bench(session().run, None, {{"x": X}})

def test_in_process_peer(infer_bench):
    a, b = session(), session()
    infer_bench.compare(a.run, b.run, args=(None, {{"x": X}}), max_slowdown=0.1)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--tests", type=int, default=5)
    parser.add_argument("--cores", default="0,1", help="taskset cores for every process")
    parser.add_argument("--noisy", action="store_true", help="neighbours on the same cores")
    parser.add_argument("--out", type=Path, help="every measurement as JSON")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="infergate-offset-"))
    (work / "test_offset.py").write_text(textwrap.dedent(TESTS.format(tests=args.tests)))
    subprocess.run(
        [sys.executable, "-c", BUILD_MLP, "256", "20", "256", str(work / "mlp.onnx")], check=True
    )
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "."],
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "aa"],
    ):
        subprocess.run(command, cwd=work, check=True, capture_output=True)
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    import os

    env = {**os.environ, **env}
    rows: list[dict[str, object]] = []
    started = time.monotonic()
    for index in range(args.sessions):
        neighbours = []
        if args.noisy:
            for code in (NEIGHBOUR_BUSY, NEIGHBOUR_BUSY, NEIGHBOUR_PERIODIC):
                neighbours.append(
                    subprocess.Popen(["taskset", "-c", args.cores, sys.executable, "-c", code])
                )
            time.sleep(0.2)
        results = work / "results.json"
        results.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [
                    "taskset",
                    "-c",
                    args.cores,
                    *pytest_cmd("--infer-against=HEAD", f"--infer-json={results}"),
                ],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            for p in neighbours:
                p.kill()
                p.wait()
        if not results.exists():
            sys.exit(f"session {index} failed:\n{proc.stdout}\n{proc.stderr}")
        wall = time.perf_counter() - t0
        measured = json.loads(results.read_text())["measurements"]
        for m in measured:
            peer = m["key"].endswith("test_in_process_peer")
            rows.append(
                {
                    "session": index,
                    "kind": "compare() in one process" if peer else "against HEAD (A/A)",
                    "ratio": m["ratio"],
                    "outcome": m["verdict"]["outcome"],
                    "n": m.get("n"),
                    "session_s": wall,
                }
            )
        ratios = [f"{m['ratio']:.3f}" for m in measured]
        print(f"  session {index}: {wall:.1f} s, ratios {ratios}", flush=True)
    print()
    condition = "noisy (2 busy + 1 periodic neighbour)" if args.noisy else "quiet"
    print(
        f"against_offset: {args.sessions} A/A sessions of {args.tests} tests on cores "
        f"{args.cores}, {condition}; {(time.monotonic() - started) / 60:.1f} min"
    )
    print(f"{'gate':28} {'median ratio':>12} {'sd of log':>9} {'range':>13} {'REGRESSED':>10}")
    for kind in ("against HEAD (A/A)", "compare() in one process"):
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        values = [float(str(r["ratio"])) for r in mine]
        logs = [__import__("math").log(v) for v in values]
        sd = statistics.stdev(logs) if len(logs) > 1 else 0.0
        alarms = sum(r["outcome"] == "REGRESSED" for r in mine)
        print(
            f"{kind:28} {statistics.median(values):>12.3f} {sd:>9.3f} "
            f"{min(values):>6.3f}-{max(values):.3f} {alarms:>5}/{len(mine)}"
        )
    per_session = {}
    for r in rows:
        if r["kind"] == "against HEAD (A/A)":
            per_session.setdefault(r["session"], []).append(float(str(r["ratio"])))
    medians = [statistics.median(v) for v in per_session.values()]
    print(f"session medians of the A/A ratio: {', '.join(f'{m:.3f}' for m in medians)}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
