"""Writing the report files a run asked for; called by the plugin at the session's end."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytest_infergate.report.csv import render_csv
from pytest_infergate.report.html import render_html
from pytest_infergate.report.markdown import render_markdown
from pytest_infergate.results import ResultsFile
from pytest_infergate.store.baseline import Baseline, write_atomic

#: Set by GitHub Actions: a Markdown file shown on the run's summary page.
STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def write_reports(
    results: ResultsFile,
    *,
    markdown: Path | None,
    html: Path | None,
    environ: Mapping[str, str],
    baseline: Baseline | None = None,
    csv: Path | None = None,
) -> list[Path]:
    """Write the Markdown, HTML and CSV reports of the session's ``results``; append the Markdown to
    ``$GITHUB_STEP_SUMMARY`` when set. Returns the paths written."""
    written: list[Path] = []
    step_summary = environ.get(STEP_SUMMARY_VARIABLE)
    if markdown is not None or step_summary:
        text = render_markdown(results)
        if markdown is not None:
            write_atomic(markdown, text)
            written.append(markdown)
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as stream:
                stream.write(text + "\n")
            written.append(Path(step_summary))
    if html is not None:
        write_atomic(html, render_html(results, baseline))
        written.append(html)
    if csv is not None:
        write_atomic(csv, render_csv(results))
        written.append(csv)
    return written
