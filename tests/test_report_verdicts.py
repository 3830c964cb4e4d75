"""The single-run report leads with the verdict; Markdown escapes what test ids and machine
names may hold. Real runs of the plugin (pytester)."""

from __future__ import annotations

import json
import re

import pytest

from pytest_infergate.report.html import html_report
from pytest_infergate.report.markdown import markdown_summary

#: One slowable model (a REGRESSED under $INFERGATE_TEST_SLOWDOWN) beside a steady one, and
#: ids holding a pipe and HTML.
MODULE = """
import os
import time
import pytest

def busy(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def test_steady(infer_bench):
    infer_bench(busy, 1.0)

def test_slowable(infer_bench):
    infer_bench(busy, float(os.environ.get("INFERGATE_TEST_SLOWDOWN", "1")))

@pytest.mark.parametrize("name", ["a|b", "<b>bold</b>"])
def test_odd(infer_bench, name):
    infer_bench(busy, 0.5)
"""


def test_verdict_first_and_markdown_escaping(pytester: pytest.Pytester, slowdown) -> None:
    pytester.makeini("[pytest]\ninfer_max_time = 0.3\n")
    pytester.makepyfile(test_m=MODULE)
    baseline, out = pytester.path / "b.json", pytester.path / "r.json"
    machine = "<i>ci|1</i>"
    pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline",
                       f"--infer-machine={machine}", "-k", "not odd")  # fmt: skip
    slowdown(3.0)
    pytester.runpytest(f"--infer-baseline={baseline}", f"--infer-json={out}",
                       f"--infer-machine={machine}", "--infer-mode=report")  # fmt: skip
    document = json.loads(out.read_text())
    outcomes = [m["verdict"]["outcome"] for m in document["measurements"]]
    assert "REGRESSED" in outcomes

    text = html_report(document)
    summary = re.search(r'<p id="verdict-summary">(.*?)</p>', text)
    assert summary
    assert text.index('id="verdict-summary"') < text.index('<section id="verdicts">')
    badges = re.findall(r'<span class="badge ([A-Z-]+)">(\d+) ([A-Z-]+)</span>', summary[1])
    counts = {o: outcomes.count(o) for o in set(outcomes)}
    assert {o: int(n) for o, n, _ in badges} == counts
    assert badges[0][0] == "REGRESSED"  # worst first
    table = text[text.index('<table id="verdict-table">') :]
    rows = re.findall(r'<tr class="([A-Z-]+)" data-verdict', table)
    assert rows[0] == "REGRESSED"
    assert '<td class="verdict REGRESSED">REGRESSED</td>' in table
    assert "td.verdict.REGRESSED,.badge.REGRESSED{background:#c62828" in text

    md = markdown_summary(document)
    assert md.startswith("## infergate: 1 REGRESSED")
    assert "<b>" not in md
    # The machine's name sits in a code span, where Markdown shows HTML as text.
    assert "`<i>ci|1</i>`" in md
    assert "&lt;b&gt;bold&lt;/b&gt;" in md
    assert "Machine `<i>ci|1</i>`:" in md  # a code span: shown as written
    header = next(line for line in md.splitlines() if line.startswith("| test |"))
    columns = header.count("|")
    for line in md.splitlines():
        if line.startswith("| test_m.py"):
            assert len(re.findall(r"(?<!\\)\|", line)) == columns, line
    assert "test_odd[a\\|b]" in md
