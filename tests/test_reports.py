"""Reports of real runs: the results file decoded, Markdown, JUnit properties, HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_infergate.config import GateConfig
from pytest_infergate.measure.cpu import CpuUsage
from pytest_infergate.measure.telemetry import GpuSample, GpuTelemetry
from pytest_infergate.measure.trace import OpTime, OpTypeTime, Trace
from pytest_infergate.report.charts import batch_sweeps, pareto_front, slowdown_spans, variant
from pytest_infergate.report.html import html_report, render_html
from pytest_infergate.report.markdown import markdown_summary
from pytest_infergate.report.trace_lines import trace_breakdown
from pytest_infergate.results import LatencyResult, Measurement
from pytest_infergate.session import GateSession
from pytest_infergate.store.baseline import BaselineError, dumps
from pytest_infergate.store.results_file import decode_results, encode_gpu
from pytest_infergate.verdicts import Outcome, Verdict

#: Latency variants with a batch sweep, an A/B comparison, and two variants with
#: both latency and accuracy (pairing by stem: fp32, int8).
VARIANTS_MODULE = textwrap.dedent(
    """
    import time
    import pytest

    def model(x, ms=0.3):
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass
        return x

    @pytest.mark.parametrize("bs", [1, 2, 4], ids=lambda b: f"bs{b}")
    def test_sweep(infer_bench, bs):
        infer_bench.measure(model, args=(1, 0.2 + 0.1 * bs), name=f"bs{bs}", batch_size=bs)

    def test_ab(infer_bench):
        infer_bench.compare(model, model, args=(1,))

    DATA = [{"text": f"t{i}", "label": i % 2} for i in range(40)]

    def test_fp32_latency(infer_bench):
        infer_bench(model, 1, 0.5)

    def test_fp32_accuracy(accuracy_eval):
        accuracy_eval(lambda batch: [0] * len(batch), DATA)

    def test_int8_latency(infer_bench):
        infer_bench(model, 1, 0.2)

    def test_int8_accuracy(accuracy_eval):
        accuracy_eval(lambda batch: [int(x[1:]) % 2 for x in batch], DATA)
    """
)


#: Real onnxruntime measurements (the conftest's ``onnx_project``): a traced float MLP, the
#: same graph where a quantised one is expected (NOT-APPLIED), and int8 against fp32 A/B.
ORT_MODULE = textwrap.dedent(
    """
    import numpy as np
    from models import X, pytest, session

    BATCH = np.ones((64, 64), np.float32)

    def test_fp32(infer_bench):
        infer_bench(session("mlp.onnx").run, None, {"x": BATCH})

    @pytest.mark.infergate(expect_quantized=True)
    def test_meant_int8(infer_bench):
        infer_bench(session("mlp.onnx").run, None, {"x": BATCH})

    def test_int8_vs_fp32(infer_bench):
        int8, fp32 = session("mlp_int8.onnx"), session("mlp.onnx")
        infer_bench.compare(int8.run, fp32.run, args=(None, {"x": X}), max_slowdown="500%")
    """
)


@pytest.fixture
def variants(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\ninfer_max_time = 0.05\n")
    pytester.makepyfile(test_variants=VARIANTS_MODULE)
    return pytester


def test_results_file_decodes_to_the_plugins_records(variants: pytest.Pytester) -> None:
    out = variants.path / "results.json"
    variants.runpytest(f"--infer-json={out}").assert_outcomes(passed=8)
    document = json.loads(out.read_text())
    results = decode_results(document, str(out))
    assert [m.verdict.kind for m in results.measurements] == [
        m["kind"] for m in document["measurements"]
    ]
    latency = results.measurements[0]
    assert latency.result.key == "test_variants.py::test_sweep[bs1]::bs1"
    assert latency.result.p50_ms == pytest.approx(document["measurements"][0]["p50_ms"])
    assert [m.verdict.outcome.value for m in results.measurements] == [
        m["verdict"]["outcome"] for m in document["measurements"]
    ]
    assert results.measurements[-1].verdict.outcome is Outcome.NEW
    assert results.fingerprint.cores >= 1


def _bad(document: dict, change) -> str:
    change(document)
    with pytest.raises(BaselineError) as info:
        decode_results(document, "r.json")
    return str(info.value)


def _document() -> dict:
    latency = {
        "key": "t.py::t",
        "nodeid": "t.py::t",
        "kind": "latency",
        "batch_size": 1,
        "calls_per_sample": 1,
        "warmup_calls": 0,
        "measured_s": 0.1,
        "stop_reason": "plan complete",
        "samples_ns": [1000, 2000, 3000],
        "verdict": {"outcome": "NEW", "reason": "", "checks": []},
    }
    fingerprint = {"cpu": "x", "cores": 2, "ram_gib": 1.0, "os": "l", "arch": "a", "python": "3"}
    return {
        "schema_version": 2,
        "machine": "x-2c",
        "fingerprint": fingerprint,
        "measurements": [latency],
    }


def test_bad_results_files_name_file_and_field() -> None:
    assert decode_results(_document(), "r.json").measurements[0].result.n == 3
    newer = _bad(_document(), lambda d: d.update(schema_version=99))
    assert newer.startswith("r.json: schema_version:")
    assert "upgrade pytest-infergate" in newer
    baseline = _bad({"schema_version": 2, "entries": {}}, lambda d: None)
    assert "not a pytest-infergate results file" in baseline
    assert "baseline" in baseline
    truncated = _bad(_document(), lambda d: d["measurements"][0].pop("samples_ns"))
    assert truncated == "r.json: measurements[0].samples_ns: missing"
    outcome = _bad(_document(), lambda d: d["measurements"][0]["verdict"].update(outcome="MEH"))
    assert "measurements[0].verdict.outcome: unknown value 'MEH'" in outcome
    assert "not a pytest-infergate" in _bad({"hello": 1}, lambda d: None)


def test_markdown_summary_and_github_step_summary(
    project: pytest.Pytester, slowdown, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = project.path / "baseline.json"
    project.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    step_summary = project.path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    slowdown(3.0)
    summary = project.path / "summary.md"
    result = project.runpytest(f"--infer-baseline={baseline}", f"--infer-markdown={summary}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"infergate: report written to {summary}"])
    text = summary.read_text()
    assert text.startswith("## infergate: 1 REGRESSED")
    assert "| test | metric | baseline | current | change |" in text
    assert "| test_model.py::test_model_latency | p50 |" in text
    assert "**REGRESSED**" in text
    assert "### Top regressions" in text
    assert "- **REGRESSED** `test_model.py::test_model_latency`: p50 " in text
    assert step_summary.read_text() == "earlier step\n" + text + "\n"


def test_junit_xml_carries_each_measurements_figures(variants: pytest.Pytester) -> None:
    junit = variants.path / "junit.xml"
    variants.runpytest(f"--junitxml={junit}").assert_outcomes(passed=8)
    cases = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(junit).getroot().iter("testcase")
    }
    sweep = cases["test_sweep[bs2]"]
    assert sweep["infergate[bs2].kind"] == "latency"
    assert sweep["infergate[bs2].verdict"] == "NEW"
    assert float(sweep["infergate[bs2].p50_ms"]) > 0.2
    assert float(sweep["infergate[bs2].throughput_per_s"]) > 0
    assert float(cases["test_ab"]["infergate.ratio"]) > 0
    accuracy = cases["test_int8_accuracy"]
    assert accuracy["infergate.accuracy"] == "1"
    assert accuracy["infergate.n"] == "40"


class _Page(HTMLParser):
    """Sections, charts (figures holding an <svg>) and external references of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.charts: dict[str, int] = {}
        self.external: list[str] = []
        self.rows: list[str] = []
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"] or "")
        if tag == "figure":
            self._figure = a.get("data-chart")
        if tag == "svg" and self._figure is not None:
            self.charts[self._figure] = self.charts.get(self._figure, 0) + 1
            self._figure = None
        if tag == "tr" and "data-verdict" in a:
            self.rows.append(a["data-verdict"] or "")
        for name in ("src", "href"):
            if a.get(name):
                self.external.append(a[name] or "")


def _render(variants: pytest.Pytester, *options: str) -> Path:
    out, page = variants.path / "results.json", variants.path / "report.html"
    run = variants.runpytest(f"--infer-json={out}", f"--infer-html={page}", *options)
    run.assert_outcomes(passed=8)
    return page


def test_html_report_of_a_real_run_has_every_section_and_chart(variants: pytest.Pytester) -> None:
    baseline = variants.path / "baseline.json"
    variants.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    page = _render(variants, f"--infer-baseline={baseline}", "--infer-mode=report")
    text = page.read_text()
    parser = _Page()
    parser.feed(text)
    parser.close()
    assert parser.sections == ["verdicts", "runtime", "latency", "tradeoff", "sweep", "machines"]
    # 3 sweep points + 2 variants + 1 A/B: one latency chart each; one trade-off; one sweep
    assert parser.charts == {"latency": 6, "tradeoff": 1, "sweep": 1}
    assert parser.external == []
    # SKIPPED: the CPU-cost rows reported beside the wall time that decided
    assert set(parser.rows) <= {"PASS", "IMPROVED", "INCONCLUSIVE", "REGRESSED", "SKIPPED"}
    assert 'id="verdict-filter"' in text
    # the baseline's sketch and p50 under each of the 5 single-arm latency charts
    assert text.count(">baseline sketch<") == 5
    assert text.count(">baseline p50<") == 5
    assert text.count(">Pareto front<") == 1
    assert "this run (" in text
    assert "baseline (" in text


def gpu_telemetry(readings: int = 600) -> GpuTelemetry:
    """Synthetic NVML readings every 20 ms (no GPU here): utilisation climbing to ~95%,
    memory growing as buffers are allocated, a thermal slowdown from 5 s to 5.6 s, and
    one other process on the GPU."""
    samples = []
    for i in range(readings):
        t = i * 0.02
        throttled = 5.0 <= t < 5.6
        samples.append(
            GpuSample(
                t_s=t,
                utilization_pct=min(95.0, 20.0 + 40.0 * t) - i % 7,
                memory_used_mib=2100.0 + 250.0 * min(t, 2.0),
                power_w=300.0 + i % 11,
                sm_clock_mhz=1755.0 if throttled else 1980.0,
                temperature_c=60.0 + t,
                slowdown_mask=0x20 if throttled else 0,
            )
        )
    return GpuTelemetry(0, tuple(samples), other_processes=1)


def test_gpu_timeline_round_trips_and_is_charted() -> None:
    telemetry = gpu_telemetry()
    document = _document()
    document["measurements"][0]["gpu_telemetry"] = encode_gpu(telemetry)
    stored = json.loads(dumps(document))
    encoded = stored["measurements"][0]["gpu_telemetry"]
    assert encoded["readings"] == 600
    series = encoded["series"]
    assert {len(column) for column in series.values()} == {500}
    assert series["t_s"][0] == 0.0
    assert series["t_s"][-1] == round(telemetry.samples[-1].t_s, 3)

    results = decode_results(stored, "r.json")
    gpu = results.measurements[0].gpu
    assert gpu is not None
    assert len(gpu.samples) == 500
    assert gpu.slowdowns == telemetry.slowdowns == ("software thermal slowdown",)
    assert gpu.other_processes == 1
    assert gpu.stats("memory_used_mib")[2] == pytest.approx(2600.0)

    text = render_html(results)
    page = _Page()
    page.feed(text)
    page.close()
    assert page.sections == ["verdicts", "latency", "gpu", "tradeoff", "sweep", "machines"]
    assert page.charts == {"latency": 1, "gpu": 1}
    assert "<h2>GPU utilisation and memory over the timed window</h2>" in text
    assert ">slowdown: software thermal slowdown<" in text
    assert "t.py::t: 500 readings over 11.98 s; GPU 0 slowed down during timing" in text
    assert "GPU 0 had 1 other process(es) computing on it" in text


def test_no_gpu_section_without_telemetry() -> None:
    text = html_report(_document())
    page = _Page()
    page.feed(text)
    assert "gpu" not in page.sections
    assert "GPU utilisation" not in text
    # telemetry written before the series was stored cannot be charted, and decodes as None
    document = _document()
    document["measurements"][0]["gpu_telemetry"] = {"gpu": 0, "other_processes": 0}
    assert decode_results(document, "r.json").measurements[0].gpu is None
    assert "GPU utilisation" not in html_report(document)


def test_bad_gpu_series_name_the_field() -> None:
    def series(change):
        def edit(document: dict) -> None:
            encoded = encode_gpu(gpu_telemetry(3))
            change(encoded["series"])
            document["measurements"][0]["gpu_telemetry"] = encoded

        return edit

    where = "r.json: measurements[0].gpu_telemetry.series"
    assert _bad(_document(), series(lambda s: s["power_w"].pop())) == (
        f"{where}.power_w: 2 values for 3 readings (t_s)"
    )
    assert _bad(_document(), series(lambda s: s["utilization_pct"].__setitem__(1, "x"))) == (
        f"{where}.utilization_pct[1]: expected a finite number >= 0, got 'x'"
    )
    assert _bad(_document(), series(lambda s: s.pop("slowdown_mask"))) == (
        f"{where}.slowdown_mask: missing"
    )
    empty = _bad(_document(), series(lambda s: [column.clear() for column in s.values()]))
    assert empty == f"{where}.t_s: a series needs at least one reading"


def _traced() -> Measurement:
    """A latency measurement with a trace of 12 operator types and the CPU use of its window."""
    small = tuple(OpTypeTime(f"Op{i}", 1, 0.2, 0.01) for i in range(11))
    trace = Trace(
        runtime="onnxruntime",
        calls=10,
        call_ms=2.0,
        ops=(
            OpTime("MatMul", "/layer.0/MatMul", 7.0, 1, 0.35),
            OpTime("Relu", "Relu_1", 0.2, 1, 0.01),
        ),
        by_type=(OpTypeTime("MatMul", 2, 12.0, 0.6), *small),
    )
    cpu = CpuUsage(wall_s=0.5, process_cpu_s=0.75, cores=2, load_average=1.25, torch_threads=4)
    result = LatencyResult("t.py::t", (1_000_000, 2_000_000, 3_000_000), 1, 1, 0, 0.1)
    verdict = Verdict(result.key, "latency", Outcome.NEW)
    return Measurement("t.py::t", result, verdict, {}, trace=trace, cpu=cpu)


def _written(*measurements: Measurement) -> dict:
    """The results document the session writes for ``measurements``, as read back from disk."""
    session = GateSession(GateConfig(machine="ci"))
    session.merge(measurements)
    return json.loads(dumps(session.results_document()))


def test_trace_and_cpu_round_trip_through_the_results_file() -> None:
    measurement = _traced()
    document = _written(measurement)
    (decoded,) = decode_results(document, "r.json").measurements
    assert decoded.trace == measurement.trace
    assert decoded.cpu == measurement.cpu
    assert decoded.cpu is not None
    assert decoded.cpu.utilisation == pytest.approx(1.5)

    # a trace written before by_type was stored, and a CPU window without load or torch
    encoded = document["measurements"][0]
    del encoded["trace"]["by_type"]
    encoded["cpu"].update(load_average=None, torch_threads=None)
    (old,) = decode_results(document, "r.json").measurements
    assert old.trace is not None
    assert old.trace.by_type == ()
    assert measurement.trace is not None
    assert old.trace.ops == measurement.trace.ops
    assert old.cpu == CpuUsage(wall_s=0.5, process_cpu_s=0.75, cores=2)


def test_bad_trace_and_cpu_fields_are_named() -> None:
    def edit(change):
        def apply(document: dict) -> None:
            document.clear()
            document.update(_written(_traced()))
            change(document["measurements"][0])

        return apply

    where = "r.json: measurements[0]"
    assert _bad({}, edit(lambda m: m["trace"]["ops"][1].update(share="x"))) == (
        f"{where}.trace.ops[1].share: expected a finite number >= 0, got 'x'"
    )
    assert _bad({}, edit(lambda m: m["trace"]["by_type"][0].pop("per_call"))) == (
        f"{where}.trace.by_type[0].per_call: missing"
    )
    assert _bad({}, edit(lambda m: m["trace"].update(ops={}))) == (
        f"{where}.trace.ops: expected a list, got dict"
    )
    assert _bad({}, edit(lambda m: m["cpu"].update(cores=0))) == (
        f"{where}.cpu.cores: expected an integer >= 1, got 0"
    )
    assert _bad({}, edit(lambda m: m["cpu"].update(wall_s=-1))) == (
        f"{where}.cpu.wall_s: expected a finite number >= 0, got -1"
    )


def test_trace_breakdown_adds_up_to_the_call() -> None:
    trace = _traced().trace
    assert trace is not None
    breakdown = trace_breakdown(trace)
    labels = [label for label, _, _ in breakdown]
    assert labels[:2] == ["MatMul x2", "Op0 x1"]
    assert labels[-2:] == ["4 other types", "outside operators"]
    assert len(labels) == 10
    assert sum(ms for _, ms, _ in breakdown) == pytest.approx(trace.call_ms)
    assert sum(share for _, _, share in breakdown) == pytest.approx(1.0)
    assert trace_breakdown(Trace("torch", 1, 1.0, ())) == []


def _ort_run(onnx_project: pytest.Pytester, *options: str, passed: int = 2) -> dict:
    """Run :data:`ORT_MODULE` (one test NOT-APPLIED) with the project's other tests
    (``passed`` of them pass) and return the results document."""
    onnx_project.makepyfile(test_ort=ORT_MODULE)
    out = onnx_project.path / "results.json"
    run = onnx_project.runpytest("-o", "infer_max_time=0.1", f"--infer-json={out}", *options)
    run.assert_outcomes(passed=passed, failed=1)
    return dict(json.loads(out.read_text()))


def test_html_report_shows_where_the_time_goes_and_what_ran(
    onnx_project: pytest.Pytester,
) -> None:
    page = onnx_project.path / "report.html"
    document = _ort_run(onnx_project, "--infer-trace", f"--infer-html={page}")
    text = page.read_text()
    parser = _Page()
    parser.feed(text)
    assert parser.sections == [
        "verdicts",
        "runtime",
        "latency",
        "trace",
        "tradeoff",
        "sweep",
        "machines",
    ]
    assert parser.charts["trace"] == 2  # the two single-arm measurements; A/B is not traced
    trace = text[text.index('<section id="trace">') : text.index('<section id="tradeoff">')]
    assert "<h2>Where the time goes</h2>" in trace
    assert ">MatMul x2<" in trace
    assert ">Relu x1<" in trace
    assert ">outside operators<" in trace
    assert "test_ort.py::test_fp32" in trace
    title = " ".join(re.findall(r">([^<>]*)</text>", trace))  # the title wraps over lines
    assert re.search(r"onnxruntime, [\d.]+ ms per profiled call over 10 calls", title), title
    assert re.search(r"\(timed without the profiler: p50 [\d.]+ ms\)", title), title
    assert trace.count('class="slowest-nodes"') == 2

    runtime = text[text.index('<section id="runtime">') : text.index('<section id="latency">')]
    assert "<h2>What ran</h2>" in runtime
    assert runtime.count(">CPUExecutionProvider</td>") == 4  # 2 single + both A/B arms
    assert runtime.count(">mlp_int8.onnx</td>") == 1
    assert '<tr class="NOT-APPLIED">' in runtime
    assert "NOT-APPLIED: expected a quantised graph, but it holds no quantised" in runtime
    assert "MatMulInteger 0→2" in runtime
    assert "test_ort.py::test_int8_vs_fp32: mlp.onnx → mlp_int8.onnx" in runtime
    assert ">CPU/wall</th>" in runtime
    # CPU seconds per wall second on the three timed measurements' rows, none on the reference's
    assert len(re.findall(r' CPU s">\d+\.\d\d</td>', runtime)) == 3
    assert "timed windows used " in runtime
    by_key = {m["key"]: m for m in document["measurements"]}
    digest = by_key["test_ort.py::test_fp32"]["runtime_facts"]["model_sha256"]
    assert f">{digest[:12]}<" in runtime

    # a changed model is highlighted; without a trace the section is absent
    for m in document["measurements"]:
        m.pop("trace", None)
    by_key["test_ort.py::test_fp32"]["verdict"]["model_change"] = "model changed (sha256 a… → b…)"
    again = html_report(document)
    assert '<section id="trace">' not in again
    assert '<tr class="changed">' in again
    assert "model changed (sha256 a… → b…)" in again


def test_markdown_says_what_ran_only_when_there_is_something_to_say(
    onnx_project: pytest.Pytester,
) -> None:
    summary = onnx_project.path / "summary.md"
    document = _ort_run(onnx_project, f"--infer-markdown={summary}")
    text = summary.read_text()
    what_ran = text[text.index("### What ran") :]
    assert (
        "- **NOT-APPLIED** `test_ort.py::test_meant_int8`: expected a quantised graph" in what_ran
    )
    assert "test_ort.py::test_int8_vs_fp32: mlp.onnx → mlp_int8.onnx (CPUExecutionProvider)" in (
        what_ran
    )
    assert "MatMulInteger 0→2" in what_ran
    assert "model changed" not in text

    measurements = document["measurements"]
    measurements[0]["verdict"]["model_change"] = "model changed (sha256 a… → b…)"
    assert f"- `{measurements[0]['key']}`: model changed (sha256 a… → b…)" in (
        markdown_summary(document)
    )
    plain = markdown_summary(_document())
    assert "What ran" not in plain


def test_report_paths_from_the_ini_file_resolve_against_its_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        "[pytest]\ninfer_max_time = 0.05\n"
        "infer_markdown = reports/summary.md\ninfer_html = reports/report.html\n"
    )
    test_file = pytester.makepyfile(
        test_one="def test_one(infer_bench):\n    infer_bench(sum, [1])\n"
    )
    reports = pytester.mkdir("reports")
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)

    run = pytester.runpytest(str(test_file))

    run.assert_outcomes(passed=1)
    run.stdout.fnmatch_lines(
        [
            f"infergate: report written to {reports / 'summary.md'}",
            f"infergate: report written to {reports / 'report.html'}",
        ]
    )
    assert (reports / "summary.md").read_text().startswith("## infergate: 1 NEW")
    page = _Page()
    page.feed((reports / "report.html").read_text())
    assert page.sections == ["verdicts", "runtime", "latency", "tradeoff", "sweep", "machines"]
    assert not (elsewhere / "reports").exists()

    # the command line wins, relative to the working directory
    (reports / "summary.md").unlink()
    run = pytester.runpytest(str(test_file), "--infer-markdown=cli.md")
    run.assert_outcomes(passed=1)
    assert (elsewhere / "cli.md").read_text().startswith("## infergate: 1 NEW")
    assert not (reports / "summary.md").exists()


def test_an_unwritable_report_is_a_usage_error(variants: pytest.Pytester) -> None:
    variants.makepyfile(test_variants="def test_one(infer_bench):\n    infer_bench(sum, [1])\n")
    run = variants.runpytest(f"--infer-markdown={variants.path / 'missing' / 'summary.md'}")
    assert run.ret == pytest.ExitCode.USAGE_ERROR  # found at start-up, before any test
    assert "does not exist; create it first" in run.stderr.str()
    assert "test_one" not in run.stdout.str()
    gone = variants.path / "gone"
    gone.mkdir()
    variants.makepyfile(
        test_variants=f"""
        import shutil

        def test_one(infer_bench):
            infer_bench(sum, [1])
            shutil.rmtree({str(gone)!r})
        """
    )
    run = variants.runpytest(f"--infer-markdown={gone / 'summary.md'}")
    assert run.ret == pytest.ExitCode.USAGE_ERROR  # the folder went away during the run
    run.stdout.fnmatch_lines(["infergate: writing the reports failed: *gone*"])


def test_report_helpers() -> None:
    assert variant("test_int8.py::test_latency") == variant("test_int8.py::test_accuracy")
    assert variant("tests/test_m.py::test_fp32_latency") == "m-fp32"
    assert pareto_front([(1.0, 0.8), (2.0, 0.9), (3.0, 0.85), (1.0, 0.7)]) == [0, 1]
    assert batch_sweeps([]) == {}
    masks = (0, 4, 4, 0, 0, 8)
    readings = [GpuSample(i / 10, 50, 1000, 100, 1500, 60, m) for i, m in enumerate(masks)]
    assert slowdown_spans(readings) == [(0.1, 0.3), (0.5, 0.5)]


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian's chromium)")
def test_html_report_screenshot_in_headless_chromium(onnx_project: pytest.Pytester) -> None:
    # the variants and the traced onnxruntime measurements, one of them NOT-APPLIED
    onnx_project.makepyfile(test_variants=VARIANTS_MODULE)
    page = onnx_project.path / "report.html"
    document = _ort_run(onnx_project, "--infer-trace", f"--infer-html={page}", passed=10)
    # no GPU here: give the first latency measurement a synthetic telemetry series
    document["measurements"][0]["gpu_telemetry"] = encode_gpu(gpu_telemetry())
    page.write_text(html_report(document))
    shot = onnx_project.path / "report.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,6000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    kept = Path(__file__).parent.parent / ".screenshots"
    kept.mkdir(exist_ok=True)
    shutil.copy(shot, kept / "report.png")
