"""The trials page over real runs: three pytest sessions with the plugin, a baseline with
history, ``infergate report`` run as users run it."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_infergate.report.charts import pareto_front, variant_points
from pytest_infergate.results import ComparisonResult, LatencyResult
from pytest_infergate.store.baseline import (
    LatencyEntry,
    LatencyRecord,
    RatioEntry,
    decode_baseline,
    read_json,
)
from pytest_infergate.store.results_file import ResultsFile, decode_results
from tests.conftest import ONNX_MODELS
from tests.test_cli import infergate

#: Trials of one model: fp32 and an int8-like variant (faster, two more mistakes in 40),
#: an A/B of the two, a batch sweep whose sizes and per-item cost come from the
#: environment, and a timed onnxruntime graph ($TRIAL_GRAPH: the float or the int8 file).
TRIALS_MODULE = textwrap.dedent(
    """
    import os
    import time

    import numpy as np
    from models import session

    SIZES = [int(n) for n in os.environ.get("TRIAL_SIZES", "1,2,4").split(",")]
    PER_ITEM_MS = float(os.environ.get("TRIAL_PER_ITEM_MS", "0.05"))
    DATA = [{"text": f"t{i}", "label": i % 2} for i in range(40)]

    def model(ms):
        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            pass

    def predict(wrong):
        return lambda batch: [1 - int(x[1:]) % 2 if int(x[1:]) < wrong else int(x[1:]) % 2
                              for x in batch]

    def test_fp32_latency(infer_bench):
        infer_bench(model, 0.6)

    def test_fp32_accuracy(accuracy_eval):
        accuracy_eval(predict(2), DATA)

    def test_int8_latency(infer_bench):
        infer_bench(model, 0.25)

    def test_int8_accuracy(accuracy_eval):
        accuracy_eval(predict(4), DATA)

    def test_int8_vs_fp32(infer_bench):
        infer_bench.compare(lambda: model(0.25), lambda: model(0.6))

    def test_sweep(infer_bench):
        infer_bench.sweep(lambda size: model(0.1 + PER_ITEM_MS * size), lambda size: (size,),
                          batch_sizes=SIZES)

    def test_graph(infer_bench):
        graph = session(os.environ.get("TRIAL_GRAPH", "mlp.onnx"))
        infer_bench(graph.run, None, {"x": np.ones((8, 64), np.float32)})
    """
)


@dataclass(frozen=True)
class Trials:
    """Three results files (fp32 only; with int8 and the sweep; a changed sweep and the
    int8 graph under the same key, on another thread setting) and the baseline they were
    judged against, which holds two recorded runs of every entry."""

    folder: Path
    files: tuple[Path, Path, Path]
    baseline: Path

    def results(self) -> list[ResultsFile]:
        return [decode_results(read_json(f), str(f)) for f in self.files]


def _session(folder: Path, *options: str, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-o", "infer_max_time=0.05", "--infer-machine=ci", *options],
        cwd=folder, capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def trials(tmp_path_factory: pytest.TempPathFactory, graphs: tuple[Path, Path]) -> Trials:
    folder = tmp_path_factory.mktemp("trials")
    (folder / "test_trials.py").write_text(TRIALS_MODULE)
    (folder / "models.py").write_text(ONNX_MODELS)
    for graph in graphs:
        (folder / graph.name).write_bytes(graph.read_bytes())
    baseline = folder / "baseline.json"
    for _ in range(2):
        _session(folder, f"--infer-baseline={baseline}", "--infer-update-baseline")
    fp32, int8, sweep = (folder / f"{name}.json" for name in ("fp32", "int8", "sweep"))
    gate = f"--infer-baseline={baseline}", "--infer-mode=report"  # judged, never failed
    _session(folder, *gate, f"--infer-json={fp32}", "-k", "fp32 and not int8")
    _session(folder, *gate, f"--infer-json={int8}")
    _session(
        folder,
        *gate,
        f"--infer-json={sweep}",
        TRIAL_SIZES="1,2,4,8",
        TRIAL_PER_ITEM_MS="0.15",
        TRIAL_GRAPH="mlp_int8.onnx",
        OMP_NUM_THREADS="1",
    )
    return Trials(folder, (fp32, int8, sweep), baseline)


class TrialsPage(HTMLParser):
    """What the trials page holds: sections, the figures table's cells by (key, figure,
    run), and the text of each chart (an inline SVG) by section."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.cells: dict[tuple[str, str, str], str] = {}
        self.charts: dict[str, list[str]] = {}
        self.external: list[str] = []
        self._row: tuple[str, str] | None = None
        self._cell: str | None = None
        self._chart: str | None = None
        self._text = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append(a["id"])
        elif tag == "tr" and "data-figure" in a:
            self._row = (a["data-key"], a["data-figure"])
        elif tag == "td" and self._row is not None and "data-run" in a:
            self._cell = a["data-run"]
            self._text = ""
        elif tag == "figure":
            self._chart = a["data-chart"]
            self.charts.setdefault(self._chart, []).append("")
        self.external += [a[n] for n in ("src", "href") if a.get(n)]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self.cells[(*self._row, self._cell)] = self._text
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "figure":
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text += data
        if self._chart is not None:
            self.charts[self._chart][-1] += f"{data}\n"


def _page(trials: Trials, *extra: object) -> tuple[str, TrialsPage]:
    page = trials.folder / "trials.html"
    done = infergate("report", *trials.files, "--baseline", trials.baseline, "-o", page, *extra)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"infergate: trials page of 3 runs written to {page}\n"
    text = page.read_text()
    return text, TrialsPage(text)


def test_trials_page_compares_the_runs_figure_by_figure(trials: Trials) -> None:
    _, page = _page(trials)
    assert page.sections == ["runs", "tradeoff", "sweep", "figures", "history", "differences"]
    assert page.external == []
    runs = dict(zip(("fp32", "int8", "sweep"), trials.results(), strict=True))
    for label, results in runs.items():
        for m in results.measurements:
            r, key = m.result, m.result.key
            if isinstance(r, LatencyResult):
                assert page.cells[(key, "p50 ms", label)].startswith(f"{r.p50_ms:.4g}")
                assert page.cells[(key, "p95 ms", label)].startswith(f"{r.p95_ms:.4g}")
                throughput = page.cells[(key, "throughput /s", label)]
                assert throughput.startswith(f"{r.throughput_per_s:.4g}")
            elif isinstance(r, ComparisonResult):
                assert page.cells[(key, "speed-up (x)", label)].startswith(f"{r.speedup:.4g}")
            else:
                assert page.cells[(key, "accuracy", label)].startswith(f"{r.value:.4g}")
            assert page.cells[(key, "verdict", label)] == m.verdict.outcome.value
    int8_latency = "test_trials.py::test_int8_latency"
    assert page.cells[(int8_latency, "p50 ms", "fp32")] == "—"  # the fp32-only run
    assert "test_trials.py::test_sweep::bs8" in {key for key, _, _ in page.cells}
    # a later run's value says how it moved against the row's first run
    change = page.cells[("test_trials.py::test_fp32_latency", "p50 ms", "sweep")]
    assert re.fullmatch(r"[\d.]+[+-]\d+\.\d%", change), change


def test_trials_page_charts_the_front_the_sweeps_and_the_history(trials: Trials) -> None:
    text, page = _page(trials, "--label", "fp32", "--label", "+int8", "--label", "bs-change")
    results = trials.results()
    labels = ("fp32", "+int8", "bs-change")

    (tradeoff,) = page.charts["tradeoff"]
    assert all(f"\n{label}\n" in f"\n{tradeoff}" for label in labels)
    assert "Pareto front (all runs)" in tradeoff
    points = [(label, stem, xy) for label, r in zip(labels, results, strict=True)
              for stem, xy in variant_points(r.measurements).items()]  # fmt: skip
    assert {stem for _, stem, _ in points} == {"trials-fp32", "trials-int8"}
    front = pareto_front([xy for _, _, xy in points])
    assert front  # the int8 variant (fastest) and an fp32 one (more accurate) are on it
    for i in front:
        label, stem, _ = points[i]
        assert f"{label}: {stem}" in tradeoff

    (sweep,) = page.charts["sweep"]
    assert "+int8" in sweep
    assert "bs-change" in sweep
    assert "fp32\n" not in sweep  # the fp32-only run has no sweep
    assert "(+int8: batch 1, 2, 4; bs-change: batch 1, 2, 4, 8)" in text
    for tick in ("1", "2", "4", "8"):
        assert f"\n{tick}\n" in f"\n{sweep}"

    baseline = decode_baseline(read_json(trials.baseline), "baseline")
    stored = {
        key: e.machines["ci"]
        for key, e in baseline.entries.items()
        if isinstance(e, LatencyEntry | RatioEntry)
    }
    histories = page.charts["history"]
    assert len(histories) == len(stored)
    for chart, key in zip(histories, sorted(stored), strict=True):
        assert key in chart
        assert "stored " in chart
        # each run that measured the key follows the stored trend as a labelled point
        measured = [label for label, r in zip(labels, results, strict=True)
                    if key in {m.result.key for m in r.measurements}]  # fmt: skip
        assert measured
        assert all(f"\n{label}\n" in f"\n{chart}" for label in measured), (key, chart)
    record = stored["test_trials.py::test_fp32_latency"]
    assert isinstance(record, LatencyRecord)
    assert len(record.history_p50_ms) == 2


def test_trials_page_says_what_differs_between_the_runs(trials: Trials) -> None:
    text, _ = _page(trials)
    facts = text[text.index('<table id="facts-table">') : text.index("<h3>Machine")]
    graph = re.findall(r'<tr data-key="test_trials.py::test_graph">(.*?)</tr>', facts)
    rows = {re.findall(r"<td>([^<]*)</td>", row)[0]: re.findall(r'class="diff">([^<]*)<', row)
            for row in graph}  # fmt: skip
    assert set(rows) >= {"model", "quantised ops"}
    assert rows["quantised ops"][:2] == ["—", "none"]  # the fp32-only run has no graph test
    assert "MatMulInteger 2" in rows["quantised ops"][2]
    assert rows["model"][1].startswith("mlp.onnx ")
    assert rows["model"][2].startswith("mlp_int8.onnx ")
    machine = text[text.index('<table id="machine-differences">') :]
    assert "<td>thread_env.OMP_NUM_THREADS</td>" in machine
    assert "libraries." not in machine  # one environment: the versions agree


def test_report_inputs_folders_labels_and_the_single_run_report(trials: Trials) -> None:
    page = trials.folder / "folder.html"
    # the folder's baseline.json (not a results file) is passed over
    done = infergate("report", trials.folder, "-o", page)
    assert done.returncode == 0, done.stderr
    assert "trials page of 3 runs" in done.stdout
    text = page.read_text()
    assert "3 runs side by side: fp32, int8, sweep." in text
    assert "Give <code>--baseline BASELINE</code>" in text

    done = infergate("report", *trials.files, "--label", "one", "-o", page)
    assert done.returncode == 2
    assert "1 --label value(s) for 3 results files" in done.stderr
    done = infergate("report", *trials.files, "--markdown", "x.md", "-o", page)
    assert done.returncode == 2
    assert "--markdown summarises one results file" in done.stderr
    empty = trials.folder / "empty"
    empty.mkdir(exist_ok=True)
    done = infergate("report", empty, "-o", page)
    assert done.returncode == 2
    assert "no results file" in done.stderr

    # one file: the single-run report, as before
    single = trials.folder / "single.html"
    done = infergate("report", trials.files[1], "-o", single)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"infergate: report written to {single}\n"
    assert '<section id="verdicts">' in single.read_text()
    assert '<section id="figures">' not in single.read_text()


def test_run_labels_from_file_names() -> None:
    from pytest_infergate.cli import run_labels

    files = [Path("a/results.json"), Path("b/results.json"), Path("c/int8.json")]
    assert run_labels(files, None) == ["a/results", "b/results", "int8"]
    twice = [Path("a/r.json"), Path("a/r.json")]
    assert run_labels(twice, None) == ["a/r", "a/r #2"]
    assert run_labels(files, ["x", "y", "z"]) == ["x", "y", "z"]
    assert json.dumps(run_labels([], None)) == "[]"


CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1280

#: Run in the page after layout: each chart's box, its legend's and all its text boxes
#: (CSS px, page coordinates), and the page's size, as JSON in a <pre> for --dump-dom.
PROBE = """<script>(function () {
  function box(e) {
    var r = e.getBoundingClientRect();
    return {text: e.textContent, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  }
  var charts = [];
  document.querySelectorAll('figure.chart').forEach(function (f) {
    var svg = f.querySelector('svg');
    charts.push({section: f.dataset.chart, box: box(svg),
                 legend: Array.from(svg.querySelectorAll('g[id^="legend"] text')).map(box),
                 texts: Array.from(svg.querySelectorAll('text')).map(box)});
  });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({width: document.documentElement.scrollWidth,
                                    height: document.documentElement.scrollHeight,
                                    charts: charts});
  document.body.appendChild(out);
})();</script>"""


def _chromium(*args: str) -> str:
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def _pixels_near(colours: list[tuple[int, tuple[int, int, int]]], rgb: tuple[int, ...]) -> int:
    return sum(n for n, c in colours if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) <= 12)


def _readable(text: dict, chart: dict, minimum: float) -> bool:
    """A text box at least ``minimum`` px in its short side (its line height, rotated or
    not) and inside the chart: not clipped."""
    b = chart["box"]
    inside = (
        text["x"] >= b["x"] - 1
        and text["y"] >= b["y"] - 1
        and text["x"] + text["w"] <= b["x"] + b["w"] + 1
        and text["y"] + text["h"] <= b["y"] + b["h"] + 1
    )
    return inside and min(text["w"], text["h"]) >= minimum


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian's chromium)")
def test_trials_page_in_headless_chromium_at_1280_px(trials: Trials) -> None:
    """What a person would look at: every chart drawn at a readable size within the
    window, legends and axis labels big enough to read and not on top of each other, and
    the charts' pixels holding each run's colour (not a blank or broken image)."""
    image = pytest.importorskip("PIL.Image")
    from pytest_infergate.report.trial_charts import RUN_COLOURS

    _, parsed = _page(trials)
    page = trials.folder / "trials.html"
    probed = trials.folder / "probed.html"
    probed.write_text(page.read_text().replace("</body>", f"{PROBE}</body>"))
    dom = _chromium(f"--window-size={WIDTH},900", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    probe = json.loads(html_unescape(found.group(1)))
    assert probe["width"] <= WIDTH  # nothing wider than the window: no sideways scrolling

    charts = probe["charts"]
    sections = [c["section"] for c in charts]
    assert sections.count("tradeoff") == 1
    assert sections.count("sweep") == 1
    assert sections.count("history") == len(parsed.charts["history"]) >= 5
    for chart in charts:
        b = chart["box"]
        assert b["w"] >= 300, chart["section"]
        assert b["h"] >= 180, chart["section"]
        assert b["x"] >= 0, chart["section"]
        assert b["x"] + b["w"] <= WIDTH, chart["section"]
        legend = sorted(chart["legend"], key=lambda t: t["y"])
        assert legend, f"{chart['section']}: no legend"
        assert all(_readable(t, chart, 9) for t in legend), legend
        for upper, lower in itertools.pairwise(legend):
            assert upper["y"] + upper["h"] <= lower["y"] + 1.5, (upper, lower)  # no overlap
    by_section = {c["section"]: c for c in charts}
    axis_labels = {
        "tradeoff": ("p50 latency per call (ms)", "accuracy"),
        "sweep": ("batch size", "throughput (items/s)", "p95 latency (ms)"),
        "history": ("stored runs (oldest first), then this page's runs", "p50 ms"),
    }
    for section, names in axis_labels.items():
        texts = {t["text"]: t for t in by_section[section]["texts"]}
        for name in names:
            assert name in texts, (section, name, sorted(texts))
            assert _readable(texts[name], by_section[section], 9), (section, texts[name])

    shot = trials.folder / "trials.png"
    height = int(probe["height"])
    _chromium(f"--window-size={WIDTH},{height}", f"--screenshot={shot}", page.as_uri())
    with image.open(shot) as png:
        assert png.size == (WIDTH, height)
        rgb = png.convert("RGB")
        for chart in charts:
            b = chart["box"]
            crop = rgb.crop((int(b["x"]), int(b["y"]), int(b["x"] + b["w"]), int(b["y"] + b["h"])))
            colours = crop.getcolors(maxcolors=1 << 20) or []
            ink = sum(n for n, c in colours if min(c) < 235) / (crop.width * crop.height)
            assert len(colours) > 20, (chart["section"], len(colours))
            assert ink > 0.02, (chart["section"], ink)
            if chart["section"] == "tradeoff":  # every run's points, in its colour
                for colour in RUN_COLOURS[:3]:
                    assert _pixels_near(colours, _rgb(colour)) >= 15, colour
            if chart["section"] == "sweep":  # the two runs with a sweep; not the fp32 one
                assert _pixels_near(colours, _rgb(RUN_COLOURS[1])) >= 30
                assert _pixels_near(colours, _rgb(RUN_COLOURS[2])) >= 30
                assert _pixels_near(colours, _rgb(RUN_COLOURS[0])) == 0
    kept = Path(__file__).parent.parent / ".screenshots"
    kept.mkdir(exist_ok=True)
    shutil.copy(shot, kept / "trials.png")
