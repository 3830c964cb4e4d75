"""How often does each latency gate cry wolf, and how often does it catch a real slowdown?

Every gate run is a fresh ``pytest`` process on this machine timing a real workload: an
ONNX Runtime session (1 intra-op thread) of a small MLP built with ``onnx.helper``,
about 3 ms per call. A slowdown of 0%, +10% or +20% is injected into the *candidate*
by busy-working, after each call, for that fraction of the CPU time the call itself
took (``time.thread_time``), so preemption by other jobs does not inflate it. Gates:

* ``ab``          infergate A/B: ``infer_bench.compare(candidate, reference,
                  max_slowdown=0.10)``; the reference is a second session of the model.
* ``stored``      infergate stored baseline with a history of K past runs (rule 2:
                  prediction bound of past run medians AND the 10% tolerance).
* ``stored-1``    infergate stored baseline with one past run (rule 1: order-statistic
                  interval against a single stored median), the fallback with < 3 runs.
* ``pb``          pytest-benchmark 5.x defaults, ``--benchmark-compare-fail=median:10%``
                  against one saved run.

``ab-design`` is not a separate run: it replays, on the very samples of each ``ab`` run, the
A/B rule as first written (docs/design.md, "The A/B rule": U test significant against 1.0 x
reference AND median ratio > 1.05); the plugin tests significance against the 1.05 margin
itself (see ``stats.ratio_look``). The replay is exact: whenever the plugin's rule stopped,
the first-wording rule had stopped at the same look or earlier.

The stored baselines' past runs are recorded between the extra A/A runs, not back to
back, so that they see the machine's drift as a CI history would. Cells run in a
shuffled order in each repetition, so slow phases of the machine fall on every gate
alike. "Seconds per verdict" is the wall time of the measuring call inside the test
(warm-up, and pytest-benchmark's calibration, included), never process start-up.
INCONCLUSIVE counts as "not an alarm" in every column (it fails only under
``--infer-strict``); its share is shown on its own.

    python benchmarks/gate_quality.py --quick        # ~4 minutes
    python benchmarks/gate_quality.py --out gq.json  # full: 30 runs per cell, 25-40 minutes
    python benchmarks/gate_quality.py --slowdowns 0 --runs 200 --modes stored,stored-1,pb
                                                     # A/A false alarms only, ~30 minutes

``--contention`` runs another experiment (see :func:`contention_main`): the stored gate
on wall time and on CPU cost side by side, with regressions made of real extra work
(more layers in the model), each run pinned to two cores with and without a noisy
neighbour on them; pytest-benchmark is the peer in the same run.

    python benchmarks/gate_quality.py --contention --minutes 7 --out gq-cpu.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's pytest_infergate, here and in every run
SLOWDOWNS = (0.0, 0.10, 0.20)
MODES = ("ab", "stored", "stored-1", "pb")
LABELS = {
    "ab": "infergate A/B compare(), max_slowdown=10%",
    "ab-design": "  same runs, first-wording rule (replayed)",
    "stored": "infergate stored, K past runs, tol 10%",
    "stored-1": "infergate stored, 1 past run (rule 1)",
    "pb": "pytest-benchmark compare-fail=median:10%",
}

Row = dict[str, object]

WORKLOAD = textwrap.dedent(
    '''
    """The benchmark's workload: an ORT session of a small MLP, with an injected slowdown."""
    import os
    import time
    from pathlib import Path

    import numpy as np

    WIDTH, DEPTH, BATCH = 1024, 7, 32
    MODEL = Path(__file__).with_name("mlp.onnx")


    def build_model():
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        rng = np.random.default_rng(0)
        nodes, weights, previous = [], [], "x"
        for i in range(DEPTH):
            w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
            weights += [numpy_helper.from_array(w, f"w{i}"),
                        numpy_helper.from_array(np.zeros(WIDTH, np.float32), f"b{i}")]
            nodes += [helper.make_node("Gemm", [previous, f"w{i}", f"b{i}"], [f"h{i}"]),
                      helper.make_node("Relu", [f"h{i}"], [f"r{i}"])]
            previous = f"r{i}"
        graph = helper.make_graph(
            nodes, "mlp",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, WIDTH])],
            [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [BATCH, WIDTH])],
            weights,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        MODEL.write_bytes(model.SerializeToString())


    def session():
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])


    def model_call(sess, slowdown):
        """A call of ``sess`` made ``slowdown`` slower: after it, busy-work for that share of
        the CPU time the call itself took on this thread (ORT with one intra-op thread
        computes on the calling thread). Proportional to the call's work, not to its wall
        time, so preemption by other jobs does not inflate the injected slowdown."""
        x = np.random.default_rng(1).standard_normal((BATCH, WIDTH)).astype(np.float32)
        feed = {"x": x}
        cpu = time.thread_time

        def call():
            c0 = cpu()
            out = sess.run(None, feed)
            if slowdown:
                end = c0 + (cpu() - c0) * (1.0 + slowdown)
                while cpu() < end:
                    pass
            return out

        return call


    def slowdown():
        return float(os.environ.get("GQ_SLOWDOWN", "0"))


    def report(seconds):
        import pytest_infergate

        Path(os.environ["GQ_TIMING"]).write_text(
            f"{seconds!r} {pytest_infergate.__file__}"
        )
    '''
)

TESTS = {
    "test_ab.py": """
        import time
        from workload import model_call, report, session, slowdown

        def test_ab(infer_bench):
            candidate = model_call(session(), slowdown())
            reference = model_call(session(), 0.0)
            t0 = time.perf_counter()
            try:
                infer_bench.compare(candidate, reference, max_slowdown=0.10)
            finally:
                report(time.perf_counter() - t0)
        """,
    "test_stored.py": """
        import time
        from workload import model_call, report, session, slowdown

        def test_stored(infer_bench):
            candidate = model_call(session(), slowdown())
            t0 = time.perf_counter()
            try:
                infer_bench(candidate)
            finally:
                report(time.perf_counter() - t0)
        """,
    "test_pb.py": """
        import time
        from workload import model_call, report, session, slowdown

        def test_pb(benchmark):
            candidate = model_call(session(), slowdown())
            t0 = time.perf_counter()
            try:
                benchmark(candidate)
            finally:
                report(time.perf_counter() - t0)
        """,
}


def pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


class Bench:
    """The benchmark project in a temporary directory, and the runs made in it."""

    def __init__(self, work: Path, history: int) -> None:
        self.work = work
        self.history = history
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}

    def run(
        self, args: list[str], slowdown: float
    ) -> tuple[subprocess.CompletedProcess[str], float]:
        timing = self.work / "timing.txt"
        timing.unlink(missing_ok=True)
        env = {**self.env, "GQ_SLOWDOWN": str(slowdown), "GQ_TIMING": str(timing)}
        proc = subprocess.run(
            pytest_cmd(*args), cwd=self.work, env=env, capture_output=True, text=True, timeout=300
        )
        seconds, plugin = timing.read_text().split(" ", 1) if timing.exists() else ("nan", "")
        if plugin and not plugin.startswith(str(REPO)):
            sys.exit(f"the workload imported pytest_infergate from {plugin}, not from {REPO}")
        return proc, float(seconds)

    def record(self, mode: str) -> None:
        proc, _ = self.run(
            [
                "test_stored.py",
                f"--infer-baseline={mode}.json",
                "--infer-update-baseline",
                "--infer-machine=bench",
            ],
            0.0,
        )
        if proc.returncode != 0:
            sys.exit(f"recording {mode} failed:\n{proc.stdout}\n{proc.stderr}")

    def setup(self, modes: tuple[str, ...], between: list[Callable[[], None]]) -> None:
        """Write the project, build the model and record the baselines; ``between`` are
        runs (the extra A/A runs) spread between the stored baselines' past runs."""
        (self.work / "workload.py").write_text(WORKLOAD)
        for name, body in TESTS.items():
            (self.work / name).write_text(textwrap.dedent(body))
        subprocess.run(
            [sys.executable, "-c", "import workload; workload.build_model()"],
            cwd=self.work,
            env=self.env,
            check=True,
        )
        if "pb" in modes:
            proc, _ = self.run(
                ["test_pb.py", "--benchmark-storage=pb", "--benchmark-save=base"], 0.0
            )
            if proc.returncode != 0:
                sys.exit(f"recording pytest-benchmark failed:\n{proc.stdout}\n{proc.stderr}")
        if "stored-1" in modes:
            self.record("stored-1")
        recordings = ["stored" for _ in range(self.history) if "stored" in modes]
        pending = list(between)
        per_gap = len(pending) // max(len(recordings), 1)
        for i, mode in enumerate(recordings):
            self.record(mode)
            take = per_gap if i < len(recordings) - 1 else len(pending)
            for job in pending[:take]:
                job()
            del pending[:take]
        for job in pending:
            job()

    def gate(self, mode: str, slowdown: float) -> Row:
        results = self.work / "results.json"
        results.unlink(missing_ok=True)
        if mode == "pb":
            saved = sorted((self.work / "pb").rglob("*base.json"))[0]
            proc, seconds = self.run(
                [
                    "test_pb.py",
                    "--benchmark-storage=pb",
                    f"--benchmark-compare={saved.stem[:4]}",
                    "--benchmark-compare-fail=median:10%",
                ],
                slowdown,
            )
            regressed = "Performance has regressed" in proc.stdout + proc.stderr
            if proc.returncode not in (0, 1) or (proc.returncode == 1 and not regressed):
                sys.exit(f"pytest-benchmark run failed:\n{proc.stdout}\n{proc.stderr}")
            return {"outcome": "REGRESSED" if regressed else "PASS", "seconds": seconds}
        if mode == "ab":
            args = ["test_ab.py"]
        else:
            args = [
                "test_stored.py",
                f"--infer-baseline={mode}.json",
                "--infer-machine=bench",
            ]
        proc, seconds = self.run([*args, f"--infer-json={results}"], slowdown)
        if proc.returncode not in (0, 1) or not results.exists():
            sys.exit(f"{mode} run failed:\n{proc.stdout}\n{proc.stderr}")
        (m,) = json.loads(results.read_text())["measurements"]
        row: Row = {
            "outcome": m["verdict"]["outcome"],
            "seconds": seconds,
            "n": m["n"],
            "stop": m["stop_reason"],
        }
        if mode == "ab":
            row["ratio"] = m["ratio"]
            row["design_rule"] = replay_design_rule(
                m["candidate"]["samples_ns"], m["reference"]["samples_ns"]
            )
        row["checks"] = {c["metric"]: c["outcome"] for c in m["verdict"]["checks"]}
        for check in m["verdict"]["checks"]:
            if check["metric"] == "p50_ms":
                row["change"] = check["current"] / check["baseline"] - 1
                if check["mdr"] is not None:
                    row["mdr"] = check["mdr"]
        return row


def replay_design_rule(candidate: list[int], reference: list[int]) -> str:
    """The A/B outcome under the rule's first wording, on the same samples (docs/design.md,
    "The A/B rule")."""
    from pytest_infergate.judge import stats

    if not stats.__file__.startswith(str(REPO)):
        sys.exit(f"replaying with pytest_infergate from {stats.__file__}, not from {REPO}")

    rule = stats.RatioRule(1.0, 0.10, significance_from="baseline")
    n_final = len(candidate)
    looks = [n for n, _ in stats.SEQUENTIAL_LOOKS]
    names = {stats.PASSED: "PASS", stats.REGRESSED: "REGRESSED", stats.IMPROVED: "IMPROVED"}
    for index, look in enumerate(looks):
        final = look >= looks[-1] or look >= n_final
        n = min(look, n_final)
        if n < stats.MIN_SAMPLES_PER_ARM:
            return "INCONCLUSIVE"
        alpha = stats.look_alpha(index, final=final)
        code = int(stats.ratio_look(candidate[:n], reference[:n], rule, alpha).codes[0])
        if code != stats.CONTINUE:
            return names[code]
        if final:
            break
    return "INCONCLUSIVE"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_of(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{k}/{n} [{low:.0%}-{high:.0%}]"


def rate(rows: list[Row], outcome: str) -> str:
    k, n = sum(r["outcome"] == outcome for r in rows), len(rows)
    if n == 0:
        return "-"
    low, high = wilson(k, n)
    return f"{k}/{n} {k / n:5.1%} [{low:.0%}-{high:.0%}]"


def table(results: dict[str, dict[float, list[Row]]]) -> list[str]:
    """The one table: a line per gate, then the measured size of the injected slowdowns."""
    header = (
        f"{'gate':41} {'false alarms at 0%':>24} {'detected at +10%':>24} "
        f"{'detected at +20%':>24} {'inconcl.':>8} {'s/verdict':>9} {'MDR':>4}"
    )
    lines = [header, "-" * len(header)]
    by_mode: dict[str, dict[float, list[Row]]] = {}
    for mode, cells in results.items():
        by_mode[mode] = cells
        if mode == "ab":
            by_mode["ab-design"] = {
                s: [{**r, "outcome": r["design_rule"]} for r in rows] for s, rows in cells.items()
            }
    for mode, cells in by_mode.items():
        every = [r for rows in cells.values() for r in rows]
        seconds = [float(str(r["seconds"])) for r in every]
        seconds = [s for s in seconds if not math.isnan(s)]
        mdrs = [float(str(r["mdr"])) for r in every if "mdr" in r]
        inconclusive = sum(r["outcome"] == "INCONCLUSIVE" for r in every) / max(len(every), 1)
        median_s = f"{statistics.median(seconds):.2f}" if seconds and mode != "ab-design" else "-"
        mdr = f"{statistics.median(mdrs):.0%}" if mdrs else "-"
        lines.append(
            f"{LABELS[mode]:41} {rate(cells.get(0.0, []), 'REGRESSED'):>24} "
            f"{rate(cells.get(0.1, []), 'REGRESSED'):>24} "
            f"{rate(cells.get(0.2, []), 'REGRESSED'):>24} "
            f"{inconclusive:>8.1%} {median_s:>9} {mdr:>4}"
        )
    if results.get("ab"):
        effective = ", ".join(
            f"+{s:.0%}: {statistics.median(float(str(r['ratio'])) for r in rows) - 1:+.1%}"
            for s, rows in results["ab"].items()
            if rows
        )
        lines.append(f"median A/B ratio measured per injected slowdown: {effective}")
    return lines


CONTENTION_TESTS = {
    "test_cpu.py": """
        import os
        from pathlib import Path

        import numpy as np
        import onnxruntime as ort
        import pytest

        @pytest.mark.parametrize("copy", range(int(os.environ["GQ_TESTS"])))
        def test_stored(infer_bench, copy):
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            # depth.txt is committed at the base depth; the against gate's candidate edits
            # it in the working tree, so each revision reads its own.
            pinned = Path(__file__).with_name("depth.txt")
            depth = pinned.read_text().strip() if pinned.exists() else os.environ["GQ_DEPTH"]
            path = Path(__file__).with_name(f"mlp{depth}.onnx")
            sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            batch, width = int(os.environ["GQ_BATCH"]), int(os.environ["GQ_WIDTH"])
            x = np.random.default_rng(1).standard_normal((batch, width)).astype(np.float32)
            infer_bench(sess.run, None, {"x": x})
        """,
    "test_cpu_pb.py": """
        import os
        from pathlib import Path

        import numpy as np
        import onnxruntime as ort

        def test_pb(benchmark):
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            path = Path(__file__).with_name(f"mlp{os.environ['GQ_DEPTH']}.onnx")
            sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            batch, width = int(os.environ["GQ_BATCH"]), int(os.environ["GQ_WIDTH"])
            x = np.random.default_rng(1).standard_normal((batch, width)).astype(np.float32)
            benchmark(sess.run, None, {"x": x})
        """,
}

BUILD_MLP = textwrap.dedent(
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

NEIGHBOUR_BUSY = "while True: pass"
NEIGHBOUR_PERIODIC = (
    "import time\n"
    "while True:\n"
    "    end = time.perf_counter() + 0.030\n"
    "    while time.perf_counter() < end:\n"
    "        pass\n"
    "    time.sleep(0.030)\n"
)

#: The contention experiment's gates, as rows of its table.
CONTENTION_LABELS = {
    "wall": "infergate stored, wall-time checks",
    "cpu": "infergate stored, CPU-cost check",
    "shipped": "infergate stored, as shipped (decides)",
    "pb": "pytest-benchmark compare-fail=median:10%",
    "against": "infergate --infer-against=HEAD (no entry)",
}


def plugin_installed() -> bool:
    """Whether pytest finds the plugin through its entry point (a pip install)."""
    from importlib.metadata import entry_points

    return any(e.name == "infergate" for e in entry_points(group="pytest11"))


class Slot:
    """One pair of cores with its own project copy, baseline and history."""

    def __init__(self, index: int, cores: str, work: Path, args: argparse.Namespace) -> None:
        self.index, self.cores, self.work, self.args = index, cores, work, args
        self.base = 20
        self.sessions = 0
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",
            "GQ_TESTS": str(args.tests),
            "GQ_BATCH": str(args.batch),
            "GQ_WIDTH": str(args.width),
        }
        if not plugin_installed():  # a checkout used through PYTHONPATH, not pip-installed
            self.env["PYTEST_PLUGINS"] = "pytest_infergate.plugin"

    def pytest(self, args: list[str], depth: int, noisy: bool) -> subprocess.CompletedProcess[str]:
        neighbours = []
        if noisy:
            for code in (NEIGHBOUR_BUSY, NEIGHBOUR_BUSY, NEIGHBOUR_PERIODIC):
                neighbours.append(
                    subprocess.Popen(["taskset", "-c", self.cores, sys.executable, "-c", code])
                )
            time.sleep(0.2)
        # With the against gate, depth.txt is committed at the base depth and the test
        # reads it before GQ_DEPTH: every gate's working tree must hold the depth it runs.
        pinned = self.work / "depth.txt"
        if pinned.exists():
            pinned.write_text(f"{depth}\n")
        try:
            return subprocess.run(
                ["taskset", "-c", self.cores, *pytest_cmd(*args)],
                cwd=self.work,
                env={**self.env, "GQ_DEPTH": str(depth)},
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            if pinned.exists():
                pinned.write_text(f"{self.base}\n")
            for p in neighbours:
                p.kill()
            for p in neighbours:
                p.wait()

    def setup(self, depths: list[int]) -> None:
        self.work.mkdir(parents=True)
        self.base = depths[0]
        for name, body in CONTENTION_TESTS.items():
            (self.work / name).write_text(textwrap.dedent(body))
        for depth in depths:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    BUILD_MLP,
                    str(self.args.width),
                    str(depth),
                    str(self.args.batch),
                    str(self.work / f"mlp{depth}.onnx"),
                ],
                check=True,
            )
        base = depths[0]
        if "against" in self.args.gates:
            self.commit_base()
        proc = self.pytest(
            ["test_cpu_pb.py", "--benchmark-storage=pb", "--benchmark-save=base"], base, noisy=False
        )
        if proc.returncode != 0:
            sys.exit(f"slot {self.index}: recording pytest-benchmark failed:\n{proc.stdout}")
        for _ in range(self.args.history):  # one sitting: back to back, quiet
            proc = self.pytest(
                [
                    "test_cpu.py",
                    "--infer-baseline=stored.json",
                    "--infer-update-baseline",
                    "--infer-machine=bench",
                ],
                base,
                noisy=False,
            )
            if proc.returncode != 0:
                sys.exit(f"slot {self.index}: recording failed:\n{proc.stdout}\n{proc.stderr}")

    def commit_base(self) -> None:
        """The slot's project as a git repository whose one commit runs the base depth."""
        (self.work / "depth.txt").write_text(f"{self.base}\n")
        for command in (
            ["git", "init", "-q"],
            ["git", "add", "."],
            [
                "git",
                "-c",
                "user.name=gq",
                "-c",
                "user.email=gq@example.com",
                "commit",
                "-qm",
                "base",
            ],
        ):
            subprocess.run(command, cwd=self.work, check=True, capture_output=True)

    def against(self, noisy: bool, depth: int) -> list[Row]:
        """One session of ``--infer-against=HEAD`` with ``depth`` layers in the working
        tree: no baseline file, so nothing but the two revisions' ratio decides."""
        results = self.work / "results.json"
        results.unlink(missing_ok=True)
        t0 = time.perf_counter()
        proc = self.pytest(
            ["test_cpu.py", "--infer-against=HEAD", f"--infer-json={results}"], depth, noisy
        )
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1) or not results.exists():
            sys.exit(f"slot {self.index}: against run failed:\n{proc.stdout}\n{proc.stderr}")
        paired = "latency measurements timed in lock-step" in proc.stdout
        self.sessions += 1
        rows: list[Row] = []
        for m in json.loads(results.read_text())["measurements"]:
            rows.append(
                {
                    "gate": "against",
                    "outcome": m["verdict"]["outcome"],
                    "ratio": m.get("ratio"),
                    "seconds": m.get("measured_s"),
                    "session": f"{self.index}-{self.sessions}",
                    "session_s": wall,
                    "paired": paired,
                }
            )
        return rows

    def gate(self, gate: str, noisy: bool, slowdown: float, depth: int) -> list[Row]:
        if gate == "against":
            return self.against(noisy, depth)
        if gate == "pb":
            saved = sorted((self.work / "pb").rglob("*base.json"))[0]
            t0 = time.perf_counter()
            proc = self.pytest(
                [
                    "test_cpu_pb.py",
                    "--benchmark-storage=pb",
                    f"--benchmark-compare={saved.stem[:4]}",
                    "--benchmark-compare-fail=median:10%",
                ],
                depth,
                noisy,
            )
            regressed = "Performance has regressed" in proc.stdout + proc.stderr
            if proc.returncode not in (0, 1) or (proc.returncode == 1 and not regressed):
                sys.exit(f"pytest-benchmark run failed:\n{proc.stdout}\n{proc.stderr}")
            outcome = "REGRESSED" if regressed else "PASS"
            return [{"gate": "pb", "outcome": outcome, "seconds": time.perf_counter() - t0}]
        results = self.work / "results.json"
        results.unlink(missing_ok=True)
        proc = self.pytest(
            [
                "test_cpu.py",
                "--infer-baseline=stored.json",
                "--infer-machine=bench",
                f"--infer-json={results}",
            ],
            depth,
            noisy,
        )
        if proc.returncode not in (0, 1) or not results.exists():
            sys.exit(f"slot {self.index}: gate run failed:\n{proc.stdout}\n{proc.stderr}")
        rows: list[Row] = []
        for m in json.loads(results.read_text())["measurements"]:
            checks = m["verdict"]["checks"]
            wall = [c for c in checks if c["metric"] in ("p50_ms", "p95_ms")]
            cpu = [c for c in checks if c["metric"] == "cpu_p50_ms"]
            p50 = next(c for c in wall if c["metric"] == "p50_ms")
            cpu_decided = bool(cpu) and cpu[0].get("deciding", True)
            common = {
                "n": m["n"],
                "share": m["cpu_p50_ms"] / m["p50_ms"],
                "wall_change": p50["current"] / p50["baseline"] - 1,
                "seconds": m["measured_s"],
            }
            if cpu:
                common["cpu_change"] = cpu[0]["current"] / cpu[0]["baseline"] - 1
                common["cpu_mdr"] = cpu[0]["mdr"]
            common["wall_mdr"] = p50["mdr"]
            rows.append(
                {**common, "gate": "wall", "outcome": worst_of([c["outcome"] for c in wall])}
            )
            rows.append({**common, "gate": "cpu", "outcome": cpu[0]["outcome"] if cpu else "NEW"})
            rows.append(
                {
                    **common,
                    "gate": "shipped",
                    "outcome": m["verdict"]["outcome"],
                    "decided_by": "cpu" if cpu_decided else "wall",
                }
            )
        return rows


def worst_of(outcomes: list[str]) -> str:
    order = ["REGRESSED", "INCONCLUSIVE", "IMPROVED", "PASS"]
    return min(outcomes, key=lambda o: order.index(o) if o in order else len(order))


def contention_table(
    results: dict[tuple[str, str, float], list[Row]], slowdowns: tuple[float, ...]
) -> list[str]:
    header = (
        f"{'gate':41} {'neighbour':9} "
        + " ".join(
            f"{('false alarms at 0%' if s == 0 else f'caught at +{s:.0%}'):>23}" for s in slowdowns
        )
        + f" {'inconcl.':>8} {'CPU decided':>11}"
    )
    lines = [header, "-" * len(header)]
    for gate in CONTENTION_LABELS:
        for condition in ("quiet", "noisy"):
            cells = [results.get((gate, condition, s), []) for s in slowdowns]
            every = [r for rows in cells for r in rows]
            if not every:
                continue
            inconclusive = sum(r["outcome"] == "INCONCLUSIVE" for r in every) / len(every)
            decided = [r for r in every if "decided_by" in r]
            by_cpu = (
                f"{sum(r['decided_by'] == 'cpu' for r in decided) / len(decided):.0%}"
                if decided
                else "-"
            )
            lines.append(
                f"{CONTENTION_LABELS[gate]:41} {condition:9} "
                + " ".join(f"{rate(rows, 'REGRESSED'):>23}" for rows in cells)
                + f" {inconclusive:>8.1%} {by_cpu:>11}"
            )
    for condition in ("quiet", "noisy"):
        sessions: dict[str, list[Row]] = {}
        for row in results.get(("against", condition, 0.0), []):
            sessions.setdefault(str(row["session"]), []).append(row)
        if not sessions:
            continue
        alarms = sum(any(r["outcome"] == "REGRESSED" for r in rows) for rows in sessions.values())
        ratios = []
        for s in slowdowns:
            rows = results.get(("against", condition, s), [])
            if rows:
                ratio = statistics.median(float(str(r["ratio"])) for r in rows)
                ratios.append(f"+{s:.0%}: {ratio - 1:+.1%}")
        every = [r for s in slowdowns for r in results.get(("against", condition, s), [])]
        by_session = {str(r["session"]): float(str(r["session_s"])) for r in every}
        lines.append(
            f"against, {condition}: sessions with a false alarm {rate_of(alarms, len(sessions))}; "
            f"median ratio {', '.join(ratios)}; "
            f"median session {statistics.median(by_session.values()):.1f} s "
            f"(measuring {statistics.median(float(str(r['seconds'])) for r in every):.2f} s a test)"
        )
    for condition in ("quiet", "noisy"):
        parts = []
        for s in slowdowns:
            rows = results.get(("shipped", condition, s), [])
            if rows:
                wall = statistics.median(float(str(r["wall_change"])) for r in rows)
                cpu = [float(str(r["cpu_change"])) for r in rows if "cpu_change" in r]
                share = statistics.median(float(str(r["share"])) for r in rows)
                cpu_text = f"{statistics.median(cpu):+.1%}" if cpu else "-"
                parts.append(
                    f"+{s:.0%}: wall {wall:+.1%} cpu {cpu_text} (CPU s per wall s {share:.2f})"
                )
        lines.append(f"median change vs stored, {condition}: " + "; ".join(parts))
    mdrs = {
        g: [
            float(str(r[f"{g}_mdr"]))
            for rows in results.values()
            for r in rows
            if r.get(f"{g}_mdr") is not None and r["gate"] == "shipped"
        ]
        for g in ("wall", "cpu")
    }
    lines.append(
        "stated MDR (median): "
        + ", ".join(f"{g} {statistics.median(v):.0%}" for g, v in mdrs.items() if v)
    )
    return lines


def contention_main(args: argparse.Namespace) -> int:
    """The stored gate on wall time and on CPU cost, quiet and with a neighbour.

    Each *slot* is two cores (``taskset``) standing in for a 2-core runner, with its own
    copy of a project of ``--tests`` tests that each time the same onnxruntime MLP
    (``--width`` x 20 Gemm+Relu layers, batch ``--batch``, one intra-op thread), its
    own baseline and its own pytest-benchmark save. The baseline's history is
    ``--history`` runs recorded back to back, quiet, at the start: one sitting. A
    regression of +10% / +20% is real extra work: 22 / 24 layers instead of 20 (the
    table's last lines give the change the runs measured). The neighbour, when on, is
    two busy loops and a periodic one (30 ms busy, 30 ms idle) pinned to the slot's
    two cores. Every gate run is a fresh pytest process; each infergate run gives one
    verdict per test, and each verdict is counted three ways: the wall-time checks
    alone (p50 and p95, whether or not they decided), the CPU-cost check alone, and the
    verdict as shipped (CPU cost decides when the run was contended). Cells run in a
    shuffled order in every slot until ``--minutes`` are spent.
    """
    base = 20
    depths = [base, round(base * 1.1), round(base * 1.2)]
    slowdowns = (0.0, 0.1, 0.2)
    cores = sorted(os.sched_getaffinity(0))
    pairs = [f"{cores[i]},{cores[i + 1]}" for i in range(0, len(cores) - 1, 4)][: args.slots]
    work = Path(tempfile.mkdtemp(prefix="infergate-gq-cpu-"))
    started = time.monotonic()
    slots = [Slot(i, pair, work / f"slot{i}", args) for i, pair in enumerate(pairs)]
    print(f"gate_quality --contention: slots on cores {pairs}; work dir {work}", flush=True)
    import threading

    errors: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                fn()
            except BaseException as exc:  # reported after join; a slot's failure ends the run
                errors.append(exc)

        return body

    threads = [threading.Thread(target=guarded(lambda s=s: s.setup(depths))) for s in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    print(
        f"  recorded {args.history} runs per slot in {time.monotonic() - started:.0f} s", flush=True
    )
    results: dict[tuple[str, str, float], list[Row]] = {}
    lock = threading.Lock()
    deadline = started + args.minutes * 60
    cycle = [
        ("stored", False, 0.0),
        ("stored", False, 0.0),
        ("stored", True, 0.0),
        ("stored", True, 0.0),
        ("stored", True, 0.0),
        ("stored", False, 0.2),
        ("stored", True, 0.2),
        ("stored", True, 0.2),
        ("stored", False, 0.1),
        ("stored", True, 0.1),
        ("pb", False, 0.0),
        ("pb", True, 0.0),
        ("pb", True, 0.2),
        ("pb", False, 0.2),
        *[
            ("against", noisy, slowdown)
            for noisy, slowdown in (
                (False, 0.0),
                (True, 0.0),
                (False, 0.1),
                (True, 0.1),
                (True, 0.2),
            )
            for _ in range(2)
        ],
    ]
    wanted = {float(text) for text in args.slowdowns.split(",") if text}
    cycle = [cell for cell in cycle if cell[0] in args.gates and cell[2] in wanted]

    def loop(slot: Slot) -> None:
        rng = random.Random(args.seed + slot.index)
        cells = list(cycle)
        while time.monotonic() < deadline:
            rng.shuffle(cells)
            for gate, noisy, slowdown in cells:
                if time.monotonic() >= deadline:
                    return
                depth = depths[slowdowns.index(slowdown)]
                rows = slot.gate(gate, noisy, slowdown, depth)
                condition = "noisy" if noisy else "quiet"
                with lock:
                    for row in rows:
                        row["slot"] = slot.index
                        results.setdefault((str(row["gate"]), condition, slowdown), []).append(row)
                print(
                    f"  slot {slot.index} {gate} {condition} +{slowdown:.0%}: "
                    f"{[r['outcome'] for r in rows if r['gate'] != 'wall']}",
                    flush=True,
                )

    threads = [threading.Thread(target=guarded(lambda s=s: loop(s))) for s in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    elapsed = time.monotonic() - started
    lines = contention_table(results, slowdowns)
    print()
    print(
        f"gate_quality --contention: ORT MLP {args.width}x20 (+10%: 22, +20%: 24 layers), batch "
        f"{args.batch}, 1 thread; {len(slots)} slots of 2 cores; {args.tests} tests a session; "
        f"stored: {args.history} past runs, one sitting, recorded quiet; {elapsed / 60:.1f} min; "
        "k/n per verdict [95% Wilson interval]"
    )
    for line in lines:
        print(line)
    if args.out:
        document = {
            "elapsed_s": elapsed,
            "results": {f"{g}|{c}|{s}": rows for (g, c, s), rows in results.items()},
            "table": lines,
        }
        args.out.write_text(json.dumps(document, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--contention",
        action="store_true",
        help="the stored gate on wall time and CPU cost, with and without a neighbour",
    )
    parser.add_argument("--minutes", type=float, default=7.0, help="--contention: gate time")
    parser.add_argument("--slots", type=int, default=4, help="--contention: core pairs used")
    parser.add_argument("--tests", type=int, default=5, help="--contention: tests a session")
    parser.add_argument(
        "--gates",
        default="stored,pb",
        type=lambda text: tuple(g for g in text.split(",") if g),
        help="--contention: which of stored, pb, against to run (default: stored,pb)",
    )
    parser.add_argument("--width", type=int, default=256, help="--contention: MLP width")
    parser.add_argument("--batch", type=int, default=256, help="--contention: batch size")
    parser.add_argument("--quick", action="store_true", help="4 runs per cell, 5 past runs")
    parser.add_argument("--runs", type=int, help="gate runs per cell (default: 30; quick: 4)")
    parser.add_argument("--history", type=int, help="past runs of the stored baselines (10; 5)")
    parser.add_argument(
        "--extra-aa", type=int, help="extra A/A runs of the A/B gate (default: 170; quick: 0)"
    )
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {', '.join(MODES)}"
    )
    parser.add_argument(
        "--slowdowns",
        default=",".join(f"{s:g}" for s in SLOWDOWNS),
        help="comma-separated injected slowdowns to run, a subset of 0,0.1,0.2 "
        "(e.g. 0: A/A runs only, for false-alarm rates; --contention too)",
    )
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, help="write every run's outcome as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.contention:
        args.history = args.history if args.history is not None else 3
        return contention_main(args)
    runs = args.runs if args.runs is not None else (4 if args.quick else 30)
    history = args.history if args.history is not None else (5 if args.quick else 10)
    extra_aa = args.extra_aa if args.extra_aa is not None else (0 if args.quick else 170)
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
    if history < 1:
        parser.error("--history must be >= 1")
    try:
        slowdowns = tuple(float(x) for x in args.slowdowns.split(",") if x)
    except ValueError:
        parser.error(f"--slowdowns: expected numbers such as 0,0.1, got {args.slowdowns!r}")
    if not slowdowns or not set(slowdowns) <= set(SLOWDOWNS):
        parser.error(f"--slowdowns must be a subset of {','.join(f'{s:g}' for s in SLOWDOWNS)}")
    work = Path(tempfile.mkdtemp(prefix="infergate-gq-"))
    started = time.monotonic()
    try:
        bench = Bench(work, history)
        print(
            f"gate_quality: {runs} runs per cell, {history} past runs, +{extra_aa} A/A; "
            f"modes {', '.join(modes)}; work dir {work}",
            flush=True,
        )
        results: dict[str, dict[float, list[Row]]] = {m: {s: [] for s in slowdowns} for m in modes}
        done = [0]

        def gate(mode: str, slowdown: float, label: str = "") -> None:
            row = bench.gate(mode, slowdown)
            results[mode][slowdown].append(row)
            done[0] += 1
            print(f"  [{done[0]}] {label}{mode} +{slowdown:.0%}: {row}", flush=True)

        extra = [
            lambda: gate("ab", 0.0, "extra A/A ") for _ in range(extra_aa if "ab" in modes else 0)
        ]
        bench.setup(modes, between=extra)
        rng = random.Random(args.seed)
        cells = [(m, s) for m in modes for s in slowdowns]
        for _ in range(runs):
            rng.shuffle(cells)
            for mode, slowdown in cells:
                gate(mode, slowdown)
        elapsed = time.monotonic() - started
        lines = table(results)
        print()
        print(
            f"gate_quality ({'quick' if args.quick else 'full'}): ORT MLP 1024x7, batch 32, "
            f"1 thread; {runs} runs per cell (+{extra_aa} extra A/A for A/B); stored: "
            f"{history} past runs; {elapsed / 60:.1f} min; k/n rate [95% Wilson interval]"
        )
        for line in lines:
            print(line)
        if args.out:
            document = {
                "runs": runs,
                "history": history,
                "extra_aa": extra_aa,
                "elapsed_s": elapsed,
                "results": {m: {str(s): r for s, r in c.items()} for m, c in results.items()},
                "table": lines,
            }
            args.out.write_text(json.dumps(document, indent=1))
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
