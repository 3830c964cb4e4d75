"""The terminal summary: one table of every gated figure, worst first, then its notes.

Latency, A/B ratio and accuracy rows share the table. Columns that only some kinds
fill (flip rate, p-value, minimum detectable regression) are left out when no row
has them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from pytest_infergate.judge.latency import cannot_gate
from pytest_infergate.judge.thresholds import CPU_FIGURE, MDR_BOUND
from pytest_infergate.judge.wording import percent
from pytest_infergate.measure.provenance import RuntimeFacts, op_changes
from pytest_infergate.results import AccuracyResult, ComparisonResult, LatencyResult, Measurement
from pytest_infergate.verdicts import SEVERITY, AccuracyCheck, Check, Outcome

HEADER = (
    "test",
    "metric",
    "baseline",
    "current",
    "change",
    "flips",
    "p-value",
    "mdr",
    "samples",
    "verdict",
)
#: Columns shown only when some row fills them.
OPTIONAL_COLUMNS = frozenset({5, 6, 7})
#: Ratio metrics of A/B comparisons; other non-accuracy metrics are latencies in ms.
RATIO_METRICS = ("slowdown", "speedup", "ratio")


@dataclass(frozen=True)
class Row:
    """One line of the summary table, already formatted (one cell per :data:`HEADER`
    column); ``note`` is its footnote (e.g. why a comparison is unpaired), ``more`` the
    footnotes it shares with other rows (a changed model under several entries), each
    numbered once for the whole table."""

    cells: tuple[str, ...]
    outcome: Outcome
    note: str = ""
    more: tuple[str, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """Every footnote of the row, its own first."""
        return tuple(n for n in (self.note, *self.more) if n)


def _ms(value: float) -> str:
    return f"{value:.4g} ms"


def _share(value: float) -> str:
    """A metric value: a percentage when it is a share (0..1), else as is."""
    return f"{value:.2%}" if 0.0 <= value <= 1.0 else f"{value:.4g}"


def _samples(result: LatencyResult | ComparisonResult) -> str:
    per_arm = "/arm" if isinstance(result, ComparisonResult) else ""
    return f"{result.n}{per_arm} ({result.stop_reason.value})"


def _figures(c: Check) -> tuple[str, str, str]:
    """Baseline, current and change of a speed check, in the units a reader expects."""
    if c.metric == "speedup":  # shown as speed-ups: higher is better
        return (
            f"{1 / c.baseline:.2f}x",
            f"{1 / c.current:.2f}x",
            f"{c.baseline / c.current - 1:+.1%}",
        )
    if c.metric in RATIO_METRICS:
        return f"{c.baseline:.3f}x", f"{c.current:.3f}x", f"{c.change:+.1%}"
    return _ms(c.baseline), _ms(c.current), f"{c.change:+.1%}"


def _verdict(outcome: Outcome, change: str) -> str:
    """The verdict cell: an updated figure says by how much it moved, ``UPDATED (+57.0%)``."""
    if outcome is Outcome.UPDATED and change:
        return f"{outcome.value} ({change})"
    return outcome.value


def _speed_rows(m: Measurement, r: LatencyResult | ComparisonResult) -> list[Row]:
    v = m.verdict
    samples = _samples(r)
    clock = r.cpu_clock if isinstance(r, LatencyResult) else None
    if not v.checks:
        current = f"{r.ratio:.3f}x" if isinstance(r, ComparisonResult) else _ms(r.p50_ms)
        metric = "ratio" if isinstance(r, ComparisonResult) else "p50"
        cells = (r.key, metric, "-", current, "-", "", "", "", samples, v.outcome.value)
        table = [Row(cells, v.outcome)]
        if isinstance(r, LatencyResult) and r.cpu_p50_ms is not None:
            cpu = (r.key, f"cpu_p50 ({clock})", "-", _ms(r.cpu_p50_ms), "-", "", "", "")
            table.append(Row((*cpu, samples, v.outcome.value), v.outcome))
        return table
    table = []
    for c in v.checks:
        baseline, current, change = _figures(c)
        p_value = f"{c.p_value:.2g}" if c.p_value is not None else ""
        mdr = percent(c.mdr) if c.mdr is not None else ""
        if cannot_gate(c.mdr, c.tolerance):
            mdr = "cannot gate"  # the footnote says why; the figure stays in the results JSON
        metric = c.metric.removesuffix("_ms")
        if metric == CPU_FIGURE:
            metric = f"{metric} ({clock})"
        figures = (r.key, metric, baseline, current, change, "", p_value, mdr, samples)
        if c.deciding:
            table.append(Row((*figures, _verdict(c.outcome, change)), c.outcome, c.note))
        else:  # reported beside the deciding check: shown in brackets, sorted last
            table.append(Row((*figures, f"({c.outcome.value})"), Outcome.SKIPPED, c.note))
    if isinstance(r, ComparisonResult) and v.outcome is Outcome.RECORDED:
        # a first recording of a ratio has no stored check to show; its row says it is stored
        cells = (r.key, "ratio", "-", f"{r.ratio:.3f}x", "-", "", "", "", samples, "RECORDED")
        table.append(Row(cells, Outcome.RECORDED))
    return table


def _accuracy_rows(m: Measurement, r: AccuracyResult) -> list[Row]:
    v = m.verdict
    checks = [c for c in v.checks if isinstance(c, AccuracyCheck)]
    if not checks:
        new = (r.key, r.metric, "-", _share(r.value), "-", "", "", "", str(r.n), v.outcome.value)
        return [Row(new, v.outcome)]
    table = []
    for c in checks:
        cells: tuple[str, ...]
        if c.metric == "flip_rate":
            limit = f"max {c.tolerance:.1%}"
            cells = (r.key, c.metric, limit, f"{c.current:.1%}", "", "", "", "", str(r.n))
        else:
            flips = f"{c.flip_rate:.1%}" if c.flip_rate is not None else "n/a"
            p_value = f"{c.p_value:.2g}" if c.p_value is not None else ""
            change = f"{c.change * 100:+.2f} pts"
            cells = (
                r.key,
                c.metric,
                _share(c.baseline),
                _share(c.current),
                change,
                flips,
                p_value,
                "",
                str(r.n),
            )
        note = "" if c.paired or c.outcome is Outcome.UPDATED else f"{r.key}: {v.reason}"
        table.append(Row((*cells, _verdict(c.outcome, cells[4])), c.outcome, note))
    return table


def rows(measurements: Sequence[Measurement]) -> list[Row]:
    """A row per gated check (or one per measurement without checks), worst first."""
    table: list[Row] = []
    shared = Counter(m.verdict.model_change for m in measurements if m.verdict.model_change)
    for m in measurements:
        if isinstance(m.result, AccuracyResult):
            table.extend(_with_provenance(m, _accuracy_rows(m, m.result), shared))
        else:
            table.extend(_with_provenance(m, _speed_rows(m, m.result), shared))
    return sorted(table, key=lambda row: -SEVERITY[row.outcome])


def _with_provenance(
    m: Measurement, table: list[Row], shared: Counter[str] | None = None
) -> list[Row]:
    """Mark a changed model on the measurement's rows, and add a NOT-APPLIED row that
    says which expectation the runtime missed. A change that ``shared`` counts for
    several measurements (one rebuilt model under 13 entries) is one footnote for all of
    them, ``13 entries: model changed (…)``, not 13 lines that differ only in the key."""
    v = m.verdict
    if v.model_change:
        count = shared[v.model_change] if shared is not None else 1
        who = f"{count} entries" if count > 1 else m.result.key
        change = f"{who}: {v.model_change}"
        # a footnote of its own, not joined to a row's note: joined, the shared change
        # was printed again under every note it met (a CPU row's "not deciding")
        table = [replace(row, more=(*row.more, change)) for row in table]
    if v.outcome is Outcome.NOT_APPLIED and any(r.outcome is not v.outcome for r in table):
        cells = (m.result.key, "runtime", "expected", "other", "", "", "", "", "", v.outcome.value)
        table.append(Row(cells, v.outcome, f"{m.result.key}: not applied: {v.reason}"))
    elif v.outcome is Outcome.NOT_APPLIED:
        table = [replace(row, note=f"{m.result.key}: not applied: {v.reason}") for row in table]
    return table


def summary(measurements: Sequence[Measurement], *, regressions_only: bool) -> list[Row]:
    """The rows to show; with ``regressions_only`` (``-q``) just the REGRESSED ones."""
    table = rows(measurements)
    if regressions_only:
        return [row for row in table if row.outcome is Outcome.REGRESSED]
    return table


def ungated_line(measurements: Sequence[Measurement], machine: str) -> str:
    """One line for ``-q``, which shows only REGRESSED rows: how many measurements could
    not be gated (verdict INCONCLUSIVE or NO-BASELINE-FOR-MACHINE) and why, so that a
    quiet run does not pass on figures nobody judged. A measurement that passed on a check
    whose stored runs spread too widely to gate (the table's ``cannot gate``) is counted
    too: its PASS says nothing. Empty when there are none."""
    outcomes = [m.verdict.outcome for m in measurements]
    inconclusive = outcomes.count(Outcome.INCONCLUSIVE)
    elsewhere = outcomes.count(Outcome.NO_BASELINE_FOR_MACHINE)
    spread = sum(
        1
        for m in measurements
        if m.verdict.outcome in (Outcome.PASS, Outcome.IMPROVED)
        and any(c.deciding and cannot_gate(c.mdr, c.tolerance) for c in m.verdict.checks)
    )
    parts = []
    if inconclusive:
        noun = "measurement" if inconclusive == 1 else "measurements"
        parts.append(
            f"{inconclusive} {noun} INCONCLUSIVE (the gate could not tell a change from the "
            "machine's noise, or the entry does not fit; the reasons are in the table without -q)"
        )
    if elsewhere:
        parts.append(
            f"{elsewhere} NO-BASELINE-FOR-MACHINE (recorded only on other machines, not "
            f"{machine!r}; --infer-update-baseline records this one)"
        )
    if spread:
        noun = "measurement" if spread == 1 else "measurements"
        parts.append(
            f"{spread} {noun} passed where the stored runs spread too widely to gate (MDR "
            f"beyond {percent(MDR_BOUND)}; --infer-against=REV or infer_bench.compare() "
            "can gate them)"
        )
    if not parts:
        return ""
    return "not gated: " + "; ".join(parts)


def format_table(table: Sequence[Row]) -> list[str]:
    """Aligned text lines: the header, then one line per row (a ``[n]`` marks a note)."""
    notes = _numbered_notes(table)
    last = len(HEADER) - 1
    marked = [(*row.cells[:last], row.cells[last] + _marks(row, notes)) for row in table]
    shown = [
        i
        for i in range(len(HEADER))
        if i not in OPTIONAL_COLUMNS or any(cells[i] for cells in marked)
    ]
    widths = {i: max([len(HEADER[i]), *(len(cells[i]) for cells in marked)]) for i in shown}

    def line(cells: Sequence[str]) -> str:
        parts = [
            cells[i].ljust(widths[i]) if i < 2 or i == last else cells[i].rjust(widths[i])
            for i in shown
        ]
        return "  ".join(parts).rstrip()

    return [line(HEADER), *(line(cells) for cells in marked)]


def format_notes(table: Sequence[Row]) -> list[str]:
    """The footnotes the table's ``[n]`` marks refer to, one line each."""
    return [f"[{number}] {note}" for note, number in _numbered_notes(table).items()]


def _numbered_notes(table: Sequence[Row]) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for row in table:
        for note in row.notes:
            if note not in numbers:
                numbers[note] = len(numbers) + 1
    return numbers


def _marks(row: Row, numbers: dict[str, int]) -> str:
    """`` [1]`` (or `` [1][3]``) after a row's verdict: the footnotes it refers to."""
    marks = "".join(f"[{number}]" for number in sorted(numbers[note] for note in row.notes))
    return f" {marks}" if marks else ""


def gpu_warnings(measurements: Sequence[Measurement]) -> list[str]:
    """One line per GPU throttling or shared-GPU warning of a timed window."""
    return [
        f"{m.result.key}: {warning}"
        for m in measurements
        if m.gpu is not None
        for warning in m.gpu.warnings()
    ]


def spinning_warnings(measurements: Sequence[Measurement]) -> list[str]:
    """One line per A/B measurement with an onnxruntime arm whose idle worker threads
    spin: interleaved, they keep their cores busy while the other arm runs, so the
    other arm's time (and the ratio) says more about the spinning than the model."""
    lines = []
    for m in measurements:
        if not isinstance(m.result, ComparisonResult):
            continue
        arms = (("candidate", m.facts), ("reference", m.reference_facts))
        spinning = [arm for arm, facts in arms if facts is not None and facts.spinning]
        if spinning:
            lines.append(
                f"{m.result.key}: the {' and '.join(spinning)}'s onnxruntime session spins "
                "idle worker threads, which slows the other arm while they are interleaved; "
                "set the session option session.intra_op.allow_spinning=0 (or one intra-op "
                "thread) for A/B runs"
            )
    return lines


def cpu_lines(measurements: Sequence[Measurement]) -> tuple[list[str], list[str]]:
    """(facts, warnings) about the CPU over the timed windows: one line with the range of
    CPU-per-wall utilisation, torch threads and load average, and a warning when the load
    exceeded the cores (other processes competed: latencies are inflated)."""
    usages = [(m.result.key, m.cpu) for m in measurements if m.cpu is not None]
    if not usages:
        return [], []
    utilisation = [cpu.utilisation for _, cpu in usages]
    facts = f"timed windows used {min(utilisation):.2f}-{max(utilisation):.2f} CPU s per wall s"
    threads = sorted({cpu.torch_threads for _, cpu in usages if cpu.torch_threads is not None})
    if threads:
        facts += f" (torch threads: {', '.join(map(str, threads))})"
    loads = [cpu.load_average for _, cpu in usages if cpu.load_average is not None]
    cores = usages[0][1].cores
    if loads:
        facts += f"; load average {min(loads):.2f}-{max(loads):.2f} on {cores} cores"
    busy = sorted(
        ((key, cpu.load_average) for key, cpu in usages if cpu.overloaded),
        key=lambda item: -(item[1] or 0.0),
    )
    warnings = []
    if busy:
        key, load = busy[0]
        warnings.append(
            f"{len(busy)} of {len(usages)} measurements were timed while the load average "
            f"exceeded the {cores} cores (worst: {key}, {load}): other processes competed "
            "for the CPU and inflated those latencies"
        )
    return [facts], warnings


#: Operator types listed per A/B measurement before the rest are counted.
MAX_OP_CHANGES = 8


def _arm_labels(reference: str | None, candidate: str | None) -> tuple[str, str]:
    """The two model files, without the directories they share: ``onnx/model.onnx`` and
    ``onnx-int8/model_quantized.onnx`` rather than two absolute paths."""
    if reference is None or candidate is None:
        return reference or "reference", candidate or "candidate"
    ref, cand = PurePath(reference).parts, PurePath(candidate).parts
    shared = 0
    while shared < min(len(ref), len(cand)) - 1 and ref[shared] == cand[shared]:
        shared += 1
    return str(PurePath(*ref[shared:])), str(PurePath(*cand[shared:]))


def _runtime_difference(key: str, candidate: RuntimeFacts, reference: RuntimeFacts) -> list[str]:
    changes = op_changes(candidate, reference)
    providers_differ = candidate.providers != reference.providers
    if not changes and not providers_differ:
        return []
    ref_label, cand_label = _arm_labels(reference.model_file, candidate.model_file)
    if providers_differ:
        where = f"providers {', '.join(reference.providers)} → {', '.join(candidate.providers)}"
    else:
        where = ", ".join(candidate.providers)
    shown = [f"{op} {old}→{new}" for op, old, new in changes[:MAX_OP_CHANGES]]
    if len(changes) > MAX_OP_CHANGES:
        shown.append(f"{len(changes) - MAX_OP_CHANGES} more")
    lines = [f"{key}: {ref_label} → {cand_label} ({where})"]
    return [*lines, f"  {', '.join(shown)}"] if shown else lines


def format_runtime_differences(measurements: Sequence[Measurement]) -> list[str]:
    """For each A/B measurement whose arms ran different onnxruntime graphs or providers:
    the two model files, then the operator types whose counts differ, reference →
    candidate. It shows that the optimisation changed the graph as it should (int8:
    MatMul became MatMulInteger), next to the speed-up it bought."""
    lines = []
    for m in measurements:
        cand, ref = m.facts, m.reference_facts
        if cand is None or ref is None or not cand.runtime == ref.runtime == "onnxruntime":
            continue
        lines.extend(_runtime_difference(m.result.key, cand, ref))
    return lines
