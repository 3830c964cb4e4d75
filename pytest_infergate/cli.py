"""The ``infergate`` command: work with baselines outside pytest."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_infergate import __version__
from pytest_infergate.options import SETTING, argparse_type, parse_share, parse_tolerances
from pytest_infergate.report.csv import render_csv
from pytest_infergate.report.html import render_html
from pytest_infergate.report.markdown import render_markdown
from pytest_infergate.report.terminal import format_notes, format_table, rows
from pytest_infergate.report.trials import Run, render_trials
from pytest_infergate.results import ResultsFile
from pytest_infergate.store.baseline import (
    AccuracyEntry,
    Baseline,
    BaselineError,
    RatioEntry,
    decode_baseline,
    dumps,
    read_json,
    update_baseline,
    write_atomic,
)
from pytest_infergate.store.offline import (
    merge_baselines,
    merge_results,
    prune_missing,
    prune_older,
    rejudge,
    require_finite,
)
from pytest_infergate.store.results_file import decode_results, encode_results
from pytest_infergate.verdicts import Outcome


def _show(baseline: Baseline) -> list[str]:
    lines = []
    for key in sorted(baseline.entries):
        entry = baseline.entries[key]
        if isinstance(entry, AccuracyEntry):
            lines.append(
                f"{key}  [accuracy]  {entry.metric}={entry.value:.4g}  n={entry.n}  "
                f"slice: {entry.sampling}, sha256 {entry.slice_sha256[:12]}"
            )
            continue
        if isinstance(entry, RatioEntry):
            for profile, ratio in sorted(entry.machines.items()):
                history = ", ".join(f"{v:.4g}" for v in ratio.history_ratio)
                lines.append(
                    f"{key}  [{profile}]  n={ratio.n} per arm  candidate/reference "
                    f"{ratio.ratio:.4g} (speed-up {1 / ratio.ratio:.3g}x)  "
                    f"p50 {ratio.candidate_p50_ms:.4g} ms vs {ratio.reference_p50_ms:.4g} ms  "
                    f"history: {history}"
                )
            continue
        for profile, record in sorted(entry.machines.items()):
            history = ", ".join(f"{v:.4g}" for v in record.history_p50_ms)
            lines.append(
                f"{key}  [{profile}]  n={record.n}  p50={record.p50_ms:.4g} ms  "
                f"p95={record.p95_ms:.4g} ms  p99={record.p99_ms:.4g} ms  history p50: {history}"
            )
    for profile, fingerprint in sorted(baseline.machines.items()):
        lines.append(
            f"machine {profile}: {fingerprint.cpu}, {fingerprint.cores} cores, "
            f"{fingerprint.os}, Python {fingerprint.python}"
        )
    return lines


def _load_baseline(path: Path) -> Baseline:
    document = read_json(path)
    if isinstance(document, dict) and "measurements" in document and "entries" not in document:
        raise BaselineError(f"{path}: a results file (--infer-json), not a baseline")
    return decode_baseline(document, str(path))


def _load_results(path: Path) -> ResultsFile:
    return decode_results(read_json(path), str(path))


def _run_show(args: argparse.Namespace) -> int:
    for line in _show(_load_baseline(args.baseline)):
        print(line)
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    baseline, results = _load_baseline(args.baseline), _load_results(args.results)
    judged = rejudge(
        baseline,
        results,
        latency_tolerance=args.tolerance,
        accuracy_tolerance=args.accuracy_tolerance,
        machine=args.machine,
    )
    table = rows(judged)
    if table:
        print(
            f"infergate: {args.results} against {args.baseline}, "
            f"machine {args.machine or results.machine}"
        )
        for line in (*format_table(table), *format_notes(table)):
            print(line)
    regressed = [m for m in judged if m.verdict.outcome is Outcome.REGRESSED]
    print(f"infergate: {len(regressed)} of {len(judged)} measurements REGRESSED")
    return 1 if regressed else 0


def _run_merge(args: argparse.Namespace) -> int:
    documents = [(str(path), read_json(path)) for path in args.inputs]
    is_results = [
        isinstance(d, dict) and "measurements" in d and "entries" not in d for _, d in documents
    ]
    if any(is_results):
        if not all(is_results):
            mixed = next(name for (name, _), r in zip(documents, is_results, strict=True) if not r)
            raise BaselineError(
                f"{mixed}: not a results file; merge results or baselines, not both"
            )
        for name, document in documents:
            require_finite(document, name)
        results, notes = merge_results([(name, decode_results(d, name)) for name, d in documents])
        for note in notes:
            print(f"infergate: conflict: {note}", file=sys.stderr)
        try:
            text = dumps(encode_results(results))
        except ValueError as exc:  # a figure derived from the inputs is not finite
            why = f"the merged results cannot be written: {exc}"
            raise BaselineError(f"{args.output}: {why}") from None
        write_atomic(args.output, text)
        print(
            f"infergate: merged {len(documents)} results files "
            f"({len(results.measurements)} measurements) into {args.output}"
        )
        return 0
    inputs = [(name, decode_baseline(d, name)) for name, d in documents]
    merged, conflicts = merge_baselines(inputs)
    for conflict in conflicts:
        print(f"infergate: conflict: {conflict.describe()}", file=sys.stderr)
    update_baseline(args.output, lambda _: merged, read=False)
    print(
        f"infergate: merged {len(inputs)} baselines ({len(merged.entries)} entries) "
        f"into {args.output}"
    )
    return 0


def _report_inputs(paths: Sequence[Path]) -> tuple[list[Path], bool]:
    """The results files named, a folder standing for its ``*.json`` results files (a
    baseline or other JSON beside them is passed over); and whether a trials page is
    wanted (two or more files, or a folder)."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = [f for f in sorted(path.glob("*.json")) if _is_results(read_json(f))]
        if not found:
            raise BaselineError(f"{path}: no results file (--infer-json) in this folder")
        files.extend(found)
    return files, len(files) > 1 or any(path.is_dir() for path in paths)


def _is_results(document: object) -> bool:
    return isinstance(document, dict) and "measurements" in document and "entries" not in document


def run_labels(files: Sequence[Path], given: Sequence[str] | None) -> list[str]:
    """``--label`` values, else each file's stem; a stem two files share gets its folder's
    name in front (``a/results``), and a number after it where that is shared too."""
    if given:
        if len(given) != len(files):
            raise BaselineError(
                f"{len(given)} --label value(s) for {len(files)} results files; "
                "give one per file, in order"
            )
        return list(given)
    stems = [f.stem for f in files]
    labels = [f"{f.parent.name}/{f.stem}" if stems.count(f.stem) > 1 else f.stem for f in files]
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def _run_report(args: argparse.Namespace) -> int:
    files, trials = _report_inputs(args.results)
    baseline = _load_baseline(args.baseline) if args.baseline else None
    if trials and args.markdown is not None:
        raise BaselineError("--markdown summarises one results file, not a trials page")
    if not trials and args.label:
        raise BaselineError("--label names the runs of a trials page (two or more files)")
    try:
        if trials:
            labels = run_labels(files, args.label)
            runs = [
                Run(label, str(f), _load_results(f)) for label, f in zip(labels, files, strict=True)
            ]
            text = render_trials(runs, baseline)
        else:
            results = _load_results(files[0])
            text = render_html(results, baseline)
    except ImportError as exc:
        raise BaselineError(
            f"the HTML report needs matplotlib ({exc}); install pytest-infergate[report]"
        ) from None
    write_atomic(args.output, text)
    if args.markdown is not None:
        write_atomic(args.markdown, render_markdown(results))
    what = f"trials page of {len(files)} runs" if trials else "report"
    print(f"infergate: {what} written to {args.output}")
    return 0


def _run_csv(args: argparse.Namespace) -> int:
    text = render_csv(_load_results(args.results))
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text)
        print(f"infergate: CSV written to {args.output}")
    return 0


def _run_prune(args: argparse.Namespace) -> int:
    keys = None
    if args.missing_from is not None:
        keys = {m.result.key for m in _load_results(args.missing_from).measurements}
    dropped: list[str] = []

    def prune(baseline: Baseline) -> Baseline:
        dropped.clear()
        if keys is not None:
            baseline, gone = prune_missing(baseline, keys)
            dropped.extend(gone)
        if args.older_than is not None:
            cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=args.older_than)
            baseline, gone = prune_older(baseline, cutoff)
            dropped.extend(gone)
        return baseline

    output = args.output or args.baseline
    if args.dry_run:
        pruned = prune(_load_baseline(args.baseline))
    elif output == args.baseline:
        _load_baseline(args.baseline)  # refuses a results file before the lock is taken
        pruned = update_baseline(output, prune)
    else:
        pruned = prune(_load_baseline(args.baseline))
        update_baseline(output, lambda _: pruned, read=False)
    for what in dropped:
        print(f"dropped {what}")
    if args.dry_run:
        print(f"infergate: {len(dropped)} to drop; --dry-run, nothing written")
        return 0
    print(f"infergate: dropped {len(dropped)}, {len(pruned.entries)} entries left in {output}")
    return 0


#: The oldest cutoff ``prune --older-than`` takes: a century, well inside what dates hold.
MAX_DAYS = 36_500


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not 0 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"expected a number of days between 0 and {MAX_DAYS}, got {text!r}"
        )
    return days


@dataclass(frozen=True)
class _Command:
    """A subcommand: its name, what runs it, its one-line help and its description."""

    name: str
    run: Callable[[argparse.Namespace], int]
    help: str
    description: str | None = None


_COMMANDS = (
    _Command("show", _run_show, "List a baseline's entries, machines and history"),
    _Command(
        "compare",
        _run_compare,
        "Gate a results file against a baseline offline: exit 1 on a regression",
        "Judge every measurement of RESULTS (--infer-json) against BASELINE "
        "with the plugin's gate. Exit 0: no regression; 1: a regression; 2: bad input.",
    ),
    _Command(
        "merge",
        _run_merge,
        "Combine baselines (or results files) from CI shards or machines into one",
        "Baselines: the union of the inputs' entries (per machine for "
        "latencies); where two inputs hold the same entry, the newer recorded_at wins. "
        "Results files (--infer-json, one machine): the measurements of all; a key in two "
        "inputs keeps the later input's. Each conflict is reported on stderr. OUT is "
        "written atomically.",
    ),
    _Command(
        "report",
        _run_report,
        "Render results files as a self-contained HTML report, or several side by side",
        "One RESULTS file (--infer-json): its report, with charts. Two or "
        "more, or a FOLDER of them: the trials page, the runs side by side (figures per "
        "measurement, latency vs accuracy with the Pareto front across runs, the batch "
        "sweeps overlaid, the baseline's history, what differs between the runs). One "
        "HTML file either way (needs matplotlib: pip install pytest-infergate[report]).",
    ),
    _Command(
        "csv",
        _run_csv,
        "Convert a results file to CSV, one row per gated figure",
        "One row per gated figure of RESULTS (--infer-json): test, metric, "
        "baseline, current, change, verdict, samples, percentiles, throughput. To OUT "
        "(written atomically), or to standard output without -o.",
    ),
    _Command(
        "prune",
        _run_prune,
        "Drop stale baseline entries",
        "Drop the entries of BASELINE whose key is not measured in RESULTS "
        "(--missing-from) and/or the records older than DAYS (--older-than).",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infergate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    subcommands: dict[str, argparse.ArgumentParser] = {}
    for command in _COMMANDS:
        subcommands[command.name] = commands.add_parser(
            command.name, help=command.help, description=command.description
        )
        subcommands[command.name].set_defaults(run=command.run)

    subcommands["show"].add_argument("baseline", type=Path, metavar="BASELINE")

    compare = subcommands["compare"]
    compare.add_argument("baseline", type=Path, metavar="BASELINE")
    compare.add_argument("results", type=Path, metavar="RESULTS")
    compare.add_argument(
        "--tolerance",
        type=argparse_type(parse_tolerances),
        metavar="FRACTION",
        help="Allowed p50 slowdown, e.g. 0.1 or 10%% (p95: twice that). "
        f"Default: {SETTING['latency_tolerance'].default:g}",
    )
    compare.add_argument(
        "--accuracy-tolerance",
        type=argparse_type(parse_share),
        metavar="SHARE",
        help="Allowed absolute accuracy drop, e.g. 0.01 or 1%%. "
        f"Default: {SETTING['accuracy_tolerance'].default:g}",
    )
    compare.add_argument(
        "--machine",
        metavar="NAME",
        help="Machine profile to compare latencies with. Default: the one RESULTS ran on",
    )

    merge = subcommands["merge"]
    merge.add_argument("inputs", type=Path, nargs="+", metavar="FILE")
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")

    report = subcommands["report"]
    report.add_argument("results", type=Path, nargs="+", metavar="RESULTS|FOLDER")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="HTML")
    report.add_argument(
        "--baseline",
        type=Path,
        metavar="BASELINE",
        help="One run: its machines beside the run's; trials: each entry's history",
    )
    report.add_argument(
        "--label",
        action="append",
        metavar="NAME",
        help="A run's name on the trials page, once per file in order. Default: file stems",
    )
    report.add_argument(
        "--markdown", type=Path, metavar="PATH", help="Also write the Markdown summary"
    )

    to_csv = subcommands["csv"]
    to_csv.add_argument("results", type=Path, metavar="RESULTS")
    to_csv.add_argument("-o", "--output", type=Path, metavar="OUT", help="Default: stdout")

    prune = subcommands["prune"]
    prune.add_argument("baseline", type=Path, metavar="BASELINE")
    prune.add_argument("--missing-from", type=Path, metavar="RESULTS")
    prune.add_argument("--older-than", type=_days, metavar="DAYS")
    prune.add_argument("-o", "--output", type=Path, metavar="OUT", help="Default: in place")
    prune.add_argument("--dry-run", action="store_true", help="List what would go; write nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 on success, 1 when ``compare`` finds a regression, 2 on
    bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "prune" and args.missing_from is None and args.older_than is None:
        parser.error("prune: give --missing-from RESULTS and/or --older-than DAYS")
    try:
        code: int = args.run(args)
    except BaselineError as exc:
        print(f"infergate: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"infergate: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
