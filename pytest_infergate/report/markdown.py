"""The Markdown summary (``--infer-markdown``, ``$GITHUB_STEP_SUMMARY``): fit for a PR comment.

A pure function of the results document: the verdict counts, the table the terminal
shows (same rows, same order: worst first), the top regressions with the gate's
reason for each, and what ran where there is something to say about it: optimisations
not applied, changed models, the operators that differ between the arms of an A/B
comparison.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pytest_infergate.report.terminal import (
    HEADER,
    OPTIONAL_COLUMNS,
    format_runtime_differences,
    rows,
)
from pytest_infergate.results import ResultsFile
from pytest_infergate.store.results_file import decode_results
from pytest_infergate.verdicts import SEVERITY, Outcome

#: Outcomes listed under "Top regressions".
_WORRYING = (Outcome.REGRESSED, Outcome.INCONCLUSIVE)


def _cell(text: str) -> str:
    """Text safe in a table cell or list item: HTML shown as written, not rendered (a test
    id ``test[<b>]`` or a machine named ``a|b`` must not become markup or a column)."""
    escaped = html.escape(text, quote=False).replace("|", "\\|")
    return escaped.replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    """``text`` as a code span: HTML inside one is shown as written; the fence is one
    backtick longer than the longest run of them in ``text``, so none ends it early."""
    text = text.replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_summary(document: Mapping[str, Any], *, top: int = 5) -> str:
    """The summary of a results document (as ``--infer-json`` writes it) as Markdown."""
    return render_markdown(decode_results(document, "results"), top=top)


def render_markdown(results: ResultsFile, *, top: int = 5) -> str:
    """The summary of decoded results; ``top`` bounds the regressions listed."""
    counts = Counter(m.verdict.outcome for m in results.measurements)
    tally = ", ".join(
        f"{n} {outcome.value}"
        for outcome, n in sorted(counts.items(), key=lambda item: -SEVERITY[item[0]])
    )
    lines = [
        f"## infergate: {tally or 'no measurements'}",
        "",
        f"Machine {_code(results.machine)}: {_cell(results.fingerprint.cpu)}, "
        f"{results.fingerprint.cores} cores, Python {_cell(results.fingerprint.python)}.",
        "",
    ]
    table = rows(results.measurements)
    if table:
        shown = [
            i
            for i in range(len(HEADER))
            if i not in OPTIONAL_COLUMNS or any(row.cells[i] for row in table)
        ]
        lines.append("| " + " | ".join(HEADER[i] for i in shown) + " |")
        lines.append("|" + "|".join("---" if i < 2 else "---:" for i in shown) + "|")
        for row in table:
            cells = [_cell(row.cells[i]) for i in shown]
            if row.outcome is Outcome.REGRESSED:
                cells[-1] = f"**{cells[-1]}**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    worrying = sorted(
        (m for m in results.measurements if m.verdict.outcome in _WORRYING),
        key=lambda m: (-SEVERITY[m.verdict.outcome], m.result.key),
    )
    if worrying:
        lines.append("### Top regressions")
        lines.append("")
        for m in worrying[:top]:
            reason = m.verdict.reason or "see the table"
            lines.append(f"- **{m.verdict.outcome.value}** {_code(m.result.key)}: {_cell(reason)}")
        if len(worrying) > top:
            lines.append(f"- … and {len(worrying) - top} more")
        lines.append("")
    lines.extend(_what_ran(results))
    return "\n".join(lines)


def _what_ran(results: ResultsFile) -> list[str]:
    """NOT-APPLIED reasons, model changes and A/B operator differences; nothing when all
    ran as expected."""
    notes = [
        f"- **{Outcome.NOT_APPLIED.value}** {_code(m.result.key)}: {_cell(m.verdict.reason)}"
        for m in results.measurements
        if m.verdict.outcome is Outcome.NOT_APPLIED
    ]
    notes += [
        f"- {_code(m.result.key)}: {_cell(m.verdict.model_change)}"
        for m in results.measurements
        if m.verdict.model_change
    ]
    differences = format_runtime_differences(results.measurements)
    if not notes and not differences:
        return []
    lines = ["### What ran", "", *notes]
    if differences:
        if notes:
            lines.append("")
        lines += ["Operators that differ, A/B reference → candidate:", "", "```", *differences]
        lines.append("```")
    return [*lines, ""]
